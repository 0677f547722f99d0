import Testing
@testable import FlameGraph

@Suite struct DifferentialTests {
    private func combined(normalize: Bool = false, stripHex: Bool = false) throws -> FoldedStacks {
        let before = try FoldedReader.read(.file(Fixture.path("folded/before.folded"))).stacks
        let after = try FoldedReader.read(.file(Fixture.path("folded/after.folded"))).stacks
        return DifferentialStacks(normalize: normalize, stripHex: stripHex).combine(before: before, after: after)
    }

    @Test func everyStackGetsBothCounts() throws {
        let text = String(decoding: try combined().foldedBytes(), as: UTF8.self)
        #expect(text == """
            main;idle 10 10
            main;run;compute 50 80
            main;run;gone 10 0
            main;run;io 30 10
            main;run;new_0x7f3a 0 5

            """)
    }

    @Test func normalizeScalesTheBaseline() throws {
        // before total 100, after total 105: before counts scaled by 1.05 and truncated.
        let stacks = try combined(normalize: true)
        let byStack = Dictionary(uniqueKeysWithValues: zip(stacks.stacks.map { String(decoding: $0, as: UTF8.self) }, stacks.baselines))
        #expect(byStack["main;run;compute"] == 52)
        #expect(byStack["main;run;io"] == 31)
        #expect(byStack["main;idle"] == 10)
    }

    @Test func stripHexMergesAddresses() throws {
        let stacks = try combined(stripHex: true)
        #expect(stacks.stacks.contains(Array("main;run;new_0x...".utf8)))
    }

    @Test func grownFramesAreRedShrunkBlueUnchangedWhite() throws {
        let frames = drawnFrames(FlameGraphRenderer().render(try combined()))
        func frame(_ name: String) -> DrawnFrame? { frames.first { $0.title.hasPrefix(name + " (") } }
        // compute grew by 30 (the largest change): full red.
        #expect(frame("compute")?.fill == "rgb(255,0,0)")
        #expect(frame("compute")?.title == "compute (80 samples, 76.19%; +28.57%)")
        // io shrank by 20: blue, 210 * (30 - 20) / 30 = 70.
        #expect(frame("io")?.fill == "rgb(70,70,255)")
        #expect(frame("idle")?.fill == "rgb(255,255,255)")
        // Widths come from the "after" profile; "gone" has no width left and is not drawn.
        #expect(frame("gone") == nil)
        #expect(frame("all")?.title == "all (105 samples, 100%)")
    }

    @Test func negateSwapsTheHues() throws {
        var options = FlameGraphOptions()
        options.negate = true
        let frames = drawnFrames(FlameGraphRenderer(options: options).render(try combined()))
        let compute = try #require(frames.first { $0.title.hasPrefix("compute (") })
        #expect(compute.fill == "rgb(0,0,255)")
        #expect(compute.title.hasSuffix("; -28.57%)"))
    }
}
