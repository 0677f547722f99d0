import Testing
@testable import FlameGraph

@Suite struct PerfCollapserTests {
    /// Expected files are this collapser's output, checked byte for byte against
    /// stackcollapse-perf.pl on the same input when they were made.
    @Test(arguments: [
        ("record-mixed", "plain", PerfCollapseOptions()),
        ("record-mixed", "pid", options { $0.includePID = true }),
        ("record-mixed", "tid", options { $0.includeTID = true }),
        ("record-mixed", "all", options { $0.annotateAll = true }),
        ("record-mixed", "kernel", options { $0.annotateKernel = true }),
        ("record-mixed", "addrs", options { $0.includeAddresses = true }),
        ("edge-cases", "plain", PerfCollapseOptions()),
        ("edge-cases", "tid-all", options { $0.includeTID = true; $0.annotateAll = true }),
        ("edge-cases", "addrs", options { $0.includeAddresses = true }),
        ("edge-cases", "cycles", options { $0.eventFilter = "cycles" }),
        ("edge-cases", "cpu-clock", options { $0.eventFilter = "cpu-clock" }),
    ])
    func matchesExpectedCollapse(input: String, variant: String, options: PerfCollapseOptions) throws {
        let collapser = try PerfCollapser.collapse(.file(Fixture.path("perf/\(input).perf")), options: options)
        let expected = try Fixture.text("perf/\(input).\(variant).folded")
        #expect(String(decoding: collapser.stacks.foldedBytes(), as: UTF8.self) == expected)
    }

    static func options(_ change: (inout PerfCollapseOptions) -> Void) -> PerfCollapseOptions {
        var o = PerfCollapseOptions()
        change(&o)
        return o
    }

    private func collapse(_ text: String, _ options: PerfCollapseOptions = PerfCollapseOptions()) throws -> String {
        let c = try PerfCollapser.collapse(.bytes(Array(text.utf8)), options: options)
        return String(decoding: c.stacks.foldedBytes(), as: UTF8.self)
    }

    @Test func stripsOffsetsAndReversesFrames() throws {
        let text = """
            app 12 [000] 1.000001: 250000 cpu-clock:
            \t    4011 leaf+0x1f (/usr/bin/app)
            \t    4022 caller+0x2a (/usr/bin/app)
            \t    4033 main (/usr/bin/app)


            """
        #expect(try collapse(text) == "app;main;caller;leaf 250000\n")
    }

    @Test func unknownFramesUseTheModuleAndAddresses() throws {
        let text = "app 1 1.0: cpu-clock:\n\t 7f00 [unknown] (/usr/lib/libz.so.1)\n\t 0 [unknown] ([unknown])\n\n"
        #expect(try collapse(text) == "app;[unknown];[libz.so.1] 1\n")
        var o = PerfCollapseOptions()
        o.includeAddresses = true
        #expect(try collapse(text, o) == "app;[unknown <0>];[libz.so.1 <7f00>] 1\n")
    }

    @Test func firstEventWinsAndOthersAreFilteredWithANotice() throws {
        let text = "ab 1 1.0: 1 cycles:\n\t 1 f (/x)\n\nab 1 1.1: 1 instructions:\n\t 1 g (/x)\n\n"
        let c = try PerfCollapser.collapse(.bytes(Array(text.utf8)))
        #expect(String(decoding: c.stacks.foldedBytes(), as: UTF8.self) == "ab;f 1\n")
        #expect(c.notices == ["Filtering for events of type: instructions"])
    }

    @Test func aSampleWithoutTheFinalBlankLineIsDropped() throws {
        // stackcollapse-perf.pl only stores a sample at a blank line.
        #expect(try collapse("ab 1 1.0: 1 cycles:\n\t 1 f (/x)\n") == "")
    }

    @Test func oneLetterCommandsParseAsPerlDoes() throws {
        // `^(\S.+?)\s+(\d+)` needs two characters of command name: Perl then takes more of the line.
        #expect(try collapse("a 1 1.0: 1 cycles:\n\t 1 f (/x)\n\n") == "a_1_1.0:;f 1\n")
    }

    @Test func framesThatTidyToTheSameNameMakeOneStackWhicheverLinesTheyCameFrom() throws {
        // Different addresses and offsets of one function are one frame; samples that share
        // their first frames with the one before, or are only a process name, count right.
        let text = """
            app 1 1.0: 1 cycles:
            \t 11 leaf+0x1 (/x)
            \t 22 main+0x5 (/x)

            app 1 1.1: 2 cycles:
            \t 12 leaf+0x2 (/x)
            \t 23 main+0x6 (/x)

            app 1 1.2: 4 cycles:
            \t 13 other+0x2 (/x)
            \t 22 main+0x5 (/x)

            app 1 1.3: 8 cycles:

            bb 2 1.4: 16 cycles:
            \t 22 main+0x5 (/x)


            """
        #expect(try collapse(text) == "app 8\napp;main;leaf 3\napp;main;other 4\nbb;main 16\n")
    }

    @Test func stacksReadWhileStreamingAreTheOnesSoFar() throws {
        var c = PerfCollapser()
        for line in ["ab 1 1.0: 1 cycles:", "\t 1 f (/x)", ""] { Array(line.utf8).withUnsafeBufferPointer { c.consume(line: $0) } }
        #expect(String(decoding: c.stacks.foldedBytes(), as: UTF8.self) == "ab;f 1\n")
        for line in ["ab 1 1.1: 1 cycles:", "\t 1 f (/x)", "", "ab 1 1.2: 1 cycles:", "\t 1 g (/x)", ""] {
            Array(line.utf8).withUnsafeBufferPointer { c.consume(line: $0) }
        }
        #expect(String(decoding: c.stacks.foldedBytes(), as: UTF8.self) == "ab;f 2\nab;g 1\n")
        #expect(c.sampleCount == 3)
    }

    @Test func unrecognizedLinesAreCountedNotFatal() throws {
        let c = try PerfCollapser.collapse(.bytes(Array("  garbage\nab 1 1.0: 1 cycles:\n\t 1 f (/x)\n\n".utf8)))
        #expect(c.unrecognizedLines == 1)
        #expect(c.stacks.count == 1)
    }
}

@Suite struct ParallelPerfCollapseTests {
    @Test(arguments: [2, 3, 7])
    func partsGiveTheSameResultAsOneThread(threads: Int) throws {
        for input in ["record-mixed", "edge-cases"] {
            let bytes = try Fixture.bytes("perf/\(input).perf")
            let single = bytes.withUnsafeBufferPointer { PerfCollapser.collapse(bytes: $0, options: PerfCollapseOptions(), threads: 1) }
            let parallel = bytes.withUnsafeBufferPointer {
                PerfCollapser.collapse(bytes: $0, options: PerfCollapseOptions(), threads: threads, minimumParallelBytes: 0)
            }
            #expect(parallel.stacks.foldedBytes() == single.stacks.foldedBytes())
            #expect(parallel.unrecognizedLines == single.unrecognizedLines)
            #expect(parallel.notices == single.notices)
        }
    }

    @Test func laterPartsFilterOnTheFirstEventOfTheFile() throws {
        var text = ""
        for i in 0..<50 { text += "app 1 1.\(i): 1 cycles:\n\t 1 f\(i % 3) (/x)\n\n" }
        for i in 0..<50 { text += "app 1 2.\(i): 1 instructions:\n\t 1 g (/x)\n\n" }
        let bytes = Array(text.utf8)
        let parallel = bytes.withUnsafeBufferPointer {
            PerfCollapser.collapse(bytes: $0, options: PerfCollapseOptions(), threads: 4, minimumParallelBytes: 0)
        }
        #expect(String(decoding: parallel.stacks.foldedBytes(), as: UTF8.self) == "app;f0 17\napp;f1 17\napp;f2 16\n")
        #expect(parallel.notices == ["Filtering for events of type: instructions"])
    }
}

@Suite struct SharedLinesPerfCollapseTests {
    /// 600 samples of Java and other processes under two events, whose stack lines repeat within
    /// and across the parts (so that each part meets lines another part met first), with Java
    /// and inlined frames, unknown frames, lines that are not frames, comments, and samples that
    /// run into the next header without a blank line.
    static func mixedCapture() -> [UInt8] {
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let comms = ["java", "javac thread", "app", "w1-app", "sh"]
        var text = "# a comment\n"
        for s in 0..<600 {
            let comm = comms[next(comms.count)]
            let event = next(10) == 0 ? "instructions" : "cycles"
            text += "\(comm) \(100 + next(3))/\(200 + next(4)) \(s).5: \(1 + next(5)) \(event):\n"
            for _ in 0..<(1 + next(6)) {
                switch next(8) {
                case 0: text += "\t ffff\(next(50)) Lcom/x/Y\(next(4));.run(I)V+0x1\(next(9)) (/tmp/perf-\(next(2)).map)\n"
                case 1: text += "\t \(next(9)) [unknown] ([unknown])\n"
                case 2: text += "  garbage line\n"
                case 3: text += "\t 1\(next(40)) f\(next(30))->g\(next(3)) (/lib/x.so)\n"
                case 4: text += "# comment in a sample\n"
                default: text += "\t 4\(next(200)) func_\(next(60))(int) ([kernel.kallsyms])\n"
                }
            }
            if next(20) != 0 { text += "\n" }
        }
        return Array(text.utf8)
    }

    static let optionSets: [PerfCollapseOptions] = {
        var pid = PerfCollapseOptions()
        pid.includePID = true
        var tid = PerfCollapseOptions()
        tid.includeTID = true
        tid.includeAddresses = true
        var all = PerfCollapseOptions()
        all.annotateAll = true
        var instructions = PerfCollapseOptions()
        instructions.eventFilter = "instructions"
        return [PerfCollapseOptions(), pid, tid, all, instructions]
    }()

    @Test(arguments: [2, 3, 5])
    func threadsSharingDistinctLinesGiveOneThreadsResult(threads: Int) {
        let bytes = Self.mixedCapture()
        for options in Self.optionSets {
            let single = bytes.withUnsafeBufferPointer { PerfCollapser.collapse(bytes: $0, options: options, threads: 1) }
            let parallel = bytes.withUnsafeBufferPointer {
                PerfCollapser.collapse(bytes: $0, options: options, threads: threads, minimumParallelBytes: 0)
            }
            #expect(single.stacks.count > 20)
            let expected = String(decoding: single.stacks.foldedBytes(), as: UTF8.self)
            #expect(String(decoding: parallel.stacks.foldedBytes(), as: UTF8.self) == expected)
            // Written with the parts read in step (each sorted on its own thread), not merged.
            var written: [UInt8] = []
            parallel.writeFolded { written.append(contentsOf: $0) }
            #expect(String(decoding: written, as: UTF8.self) == expected)
            #expect(parallel.unrecognizedLines == single.unrecognizedLines)
            #expect(parallel.sampleCount == single.sampleCount)
            #expect(parallel.notices == single.notices)
        }
    }
}
