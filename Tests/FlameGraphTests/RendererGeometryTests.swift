import Testing
@testable import FlameGraph

@Suite struct RendererGeometryTests {
    private func render(_ text: String, _ change: (inout FlameGraphOptions) -> Void = { _ in }) throws -> [DrawnFrame] {
        var options = FlameGraphOptions()
        change(&options)
        return drawnFrames(FlameGraphRenderer(options: options).render(try FoldedStacks.parse(text)))
    }

    @Test func widthsAreProportionalToCounts() throws {
        // 1200 px wide, 10 px padding each side: 1180 px for 100 samples.
        let frames = try render("a;b 25\na;c 75\n")
        let byName = Dictionary(uniqueKeysWithValues: frames.map { (String($0.title.prefix { $0 != " " }), $0) })
        #expect(byName["all"]?.width == 1180.0)
        #expect(byName["a"]?.width == 1180.0)
        #expect(byName["b"]?.width == 295.0)
        #expect(byName["c"]?.width == 885.0)
        #expect(byName["b"]?.x == 10.0)
        #expect(byName["c"]?.x == 305.0)
        #expect(byName["b"]?.title == "b (25 samples, 25.00%)")
        #expect(byName["all"]?.title == "all (100 samples, 100%)")
    }

    /// Frames drawn in parts on several threads join into the very bytes one thread writes.
    @Test(arguments: [2, 3, 7])
    func framesDrawnInPartsJoinIntoTheSameGraph(parts: Int) throws {
        var text = ""
        for i in 0..<3_000 { text += "main;serve;handler\(i % 97);work\(i);leaf & <\(i % 5)> \(i % 13 + 1)\n" }
        let stacks = try FoldedStacks.parse(text)
        let serial = FlameGraphRenderer()
        var parallel = FlameGraphRenderer()
        parallel.drawingParts = parts
        var one = FlameGraphRenderer()
        one.drawingParts = 1
        let expected = one.render(stacks)
        #expect(drawnFrames(expected).count > 2_000)
        #expect(parallel.render(stacks) == expected)
        #expect(serial.render(stacks) == expected)
    }

    @Test func depthsStackUpwardsAndIciclesDownwards() throws {
        let flame = try render("a;b;c 1\n")
        let ys = flame.map(\.y)
        #expect(ys == ys.sorted(by: >))  // root at the bottom
        #expect(Set(zip(ys, ys.dropFirst()).map { $0 - $1 }) == [16])
        let icicle = try render("a;b;c 1\n") { $0.inverted = true }
        #expect(icicle.map(\.y) == [36, 52, 68, 84])  // ypad1 = 3 * font size
    }

    @Test func minWidthPrunesNarrowFrames() throws {
        let text = "a;big 999\na;tiny 1\n"
        #expect(try render(text).contains { $0.title.hasPrefix("tiny") })
        #expect(try !render(text) { $0.minWidth = .pixels(2) }.contains { $0.title.hasPrefix("tiny") })
        #expect(try !render(text) { $0.minWidth = .percent(0.5) }.contains { $0.title.hasPrefix("tiny") })
    }

    @Test func siblingsAreSortedAndMergedLikeFlamegraphPl() throws {
        // Input order does not matter: stacks are sorted, equal prefixes merged.
        let frames = try render("a;z 1\na;b;x 1\na;b;y 2\n")
        let names = frames.map { String($0.title.prefix { $0 != " " }) }
        #expect(names == ["all", "a", "b", "z", "x", "y"])
        let b = frames[2], x = frames[4], y = frames[5]
        #expect(b.width == (x.width + y.width))
    }

    @Test func reverseMergesFromTheLeaves() throws {
        let frames = try render("a;leaf 1\nb;leaf 1\n") { $0.reverse = true }
        let depth1 = frames.filter { $0.y == frames[1].y }
        #expect(depth1.map(\.title) == ["leaf (2 samples, 100.00%)"])
    }

    @Test func flameChartKeepsInputOrder() throws {
        var options = FlameGraphOptions()
        options.flameChart = true
        let stacks = try FoldedStacks.parse("a;z 1\na;b 1\na;z 1\n", merging: false)
        let frames = drawnFrames(FlameGraphRenderer(options: options).render(stacks))
        let leaves = frames.filter { $0.y == frames.map(\.y).min() }
        #expect(leaves.map { String($0.title.prefix { $0 != " " }) } == ["z", "b", "z"])
    }

    @Test func labelsAreCutToFitWithDots() throws {
        let frames = try render("short 10\nlong_function_name_here 1\nx 989\n") { $0.width = 1200 }
        let long = try #require(frames.first { $0.title.hasPrefix("long_function") })
        // 1.2 px wide: no room for a label.
        #expect(long.label == "")
        let wide = try render("a_rather_long_function_name 1\n") { $0.width = 100 }
        // 80 px / (12 * 0.59) = 11 characters: 9 of the name and "..".
        #expect(wide.first { $0.title.hasPrefix("a_rather") }?.label == "a_rather_..")
    }

    @Test func namesAreEscapedAndAnnotationsStripped() throws {
        let frames = try render("main;<T>&\"q\" 1\nmain;vfs_read_[k] 1\n")
        let titles = frames.map(\.title)
        #expect(titles.contains("&lt;T&gt;&amp;&quot;q&quot; (1 samples, 50.00%)"))
        #expect(titles.contains("vfs_read (1 samples, 50.00%)"))
    }

    @Test func countsGetThousandsSeparatorsAndCustomNames() throws {
        let frames = try render("a 1234567\n") { $0.countName = "bytes" }
        #expect(frames.first?.title == "all (1,234,567 bytes, 100%)")
    }

    @Test func coloursMatchFlamegraphPlsNameSeededPalette() throws {
        // flamegraph.pl seeds Perl's drand48 with the sum of the name's code points.
        let frames = try render("main 1\n")
        #expect(frames.first { $0.title.hasPrefix("main") }?.fill == "rgb(243,179,42)")
        let mem = try render("main 1\n") { $0.palette = .mem }
        #expect(mem.first { $0.title.hasPrefix("main") }?.fill == "rgb(0,228,163)")
        let hashed = try render("main 1\n") { $0.hashColors = true }
        #expect(hashed.first { $0.title.hasPrefix("main") }?.fill == "rgb(247,83,46)")
    }

    @Test func emptyInputDrawsASmallNothingToDrawSVG() throws {
        let svg = String(decoding: FlameGraphRenderer().render(try FoldedStacks.parse("")), as: UTF8.self)
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("nothing to draw"))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.utf8.count < 1000)
        #expect(!svg.contains("onload"))  // no script to call
    }

    @Test func interactivityIsEmbedded() throws {
        let svg = String(decoding: FlameGraphRenderer().render(try FoldedStacks.parse("a 1\n")), as: UTF8.self)
        for needle in ["function zoom(", "function unzoom(", "function search(", "Matched: ", "id=\"unzoom\"", "id=\"details\"", "onload=\"init(evt)\""] {
            #expect(svg.contains(needle), "missing \(needle)")
        }
        #expect(!svg.contains("http://") || !svg.contains("src="))  // nothing fetched from outside
    }
}
