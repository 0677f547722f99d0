import Testing
@testable import FlameGraph

/// pprof, stackprof, speedscope and py-spy inputs recorded here with the real tools (Go's
/// runtime/pprof, ruby-stackprof, py-spy); expected files are our output, checked against
/// `go tool pprof -traces` and `stackprof --stackcollapse` when they were made.
@Suite struct ProfileFormatTests {
    private func folded(_ stacks: FoldedStacks) -> String { String(decoding: stacks.foldedBytes(), as: UTF8.self) }

    @Test(arguments: [
        ("cpu.pb.gz", nil, "cpu.default"), ("cpu.pb", nil, "cpu.default"), ("cpu.pb.gz", "samples", "cpu.samples"),
        ("cpu.pb.gz", "0", "cpu.samples"), ("heap.pb.gz", nil, "heap.default"), ("heap.pb.gz", "inuse_objects", "heap.inuse_objects"),
    ] as [(String, String?, String)])
    func pprof(file: String, sampleType: String?, expected: String) throws {
        guard Gzip.isAvailable || !file.hasSuffix(".gz") else { return }  // built without the CZlib module
        let stacks = try PprofCollapser.collapse(.file(Fixture.path("pprof/\(file)")), sampleType: sampleType)
        #expect(folded(stacks) == (try Fixture.text("pprof/\(expected).folded")))
    }

    @Test(.enabled(if: Gzip.isAvailable)) func pprofDefaultsAsPprofDoes() throws {
        // A CPU profile has no default sample type: the last one (cpu nanoseconds) is used.
        #expect(try PprofCollapser.sampleTypes(.file(Fixture.path("pprof/cpu.pb.gz"))) == ["samples", "cpu"])
        let cpu = try PprofCollapser.collapse(.file(Fixture.path("pprof/cpu.pb.gz")))
        #expect(cpu.total == 1_330_000_000)
        // The allocs profile names alloc_space as its default.
        let heap = try PprofCollapser.collapse(.file(Fixture.path("pprof/heap.pb.gz")))
        let space = try PprofCollapser.collapse(.file(Fixture.path("pprof/heap.pb.gz")), sampleType: "alloc_space")
        #expect(folded(heap) == folded(space))
    }

    @Test func pprofRejectsUnknownSampleTypesAndGarbage() throws {
        #expect(throws: PprofError.self) { try PprofCollapser.collapse(.file(Fixture.path("pprof/cpu.pb")), sampleType: "wall") }
        #expect(throws: PprofError.self) { try PprofCollapser.collapse(.bytes([0x0A, 0xFF])) }
        var truncated = try Fixture.bytes("pprof/cpu.pb.gz")
        truncated.removeLast(100)
        #expect(throws: PprofError.self) { try PprofCollapser.collapse(.bytes(truncated)) }
    }

    @Test func stackprofRaw() throws {
        let stacks = try StackprofCollapser.collapse(.file(Fixture.path("json/stackprof.json")))
        #expect(folded(stacks) == (try Fixture.text("json/stackprof.folded")))
        #expect(stacks.total == 49)  // "samples" in the report (the 9 GC samples included)
    }

    @Test func stackprofWithoutRawExplainsWhy() throws {
        let json = #"{"frames":{"1":{"name":"a"}},"samples":1}"#
        #expect { try StackprofCollapser.collapse(.bytes(Array(json.utf8))) } throws: { error in
            String(describing: error).contains("raw: true")
        }
    }

    @Test func speedscopeSampledFromPySpy() throws {
        let stacks = try SpeedscopeCollapser.collapse(.file(Fixture.path("json/pyspy-sampled.speedscope.json")))
        #expect(folded(stacks) == (try Fixture.text("json/pyspy-sampled.folded")))
        // py-spy weights are seconds (0.005 a sample at 200 Hz): counts are microseconds.
        #expect(stacks.counts.allSatisfy { $0.truncatingRemainder(dividingBy: 5000) == 0 })
    }

    @Test func speedscopeEventedAndSeveralProfiles() throws {
        let stacks = try SpeedscopeCollapser.collapse(.file(Fixture.path("json/evented.speedscope.json")))
        #expect(folded(stacks) == """
            worker 1;main (app.js:1) 5000
            worker 1;main (app.js:1);handle: request 2000
            worker 1;main (app.js:1);handle: request;render 3000
            worker 2;main (app.js:1) 1
            worker 2;main (app.js:1);render 2

            """)
    }

    @Test func speedscopeRejectsMismatchedEvents() throws {
        let json = #"{"shared":{"frames":[{"name":"a"},{"name":"b"}]},"profiles":[{"type":"evented","unit":"none","startValue":0,"endValue":2,"events":[{"type":"O","frame":0,"at":0},{"type":"C","frame":1,"at":1}]}]}"#
        #expect(throws: InputError.self) { try SpeedscopeCollapser.collapse(.bytes(Array(json.utf8))) }
        #expect(throws: InputError.self) { try SpeedscopeCollapser.collapse(.bytes(Array("[1,2]".utf8))) }
    }

    @Test func pySpyRawIsFolded() throws {
        let reader = try FoldedReader.read(.file(Fixture.path("pyspy/record.raw")))
        #expect(reader.invalidLines == 0)
        #expect(folded(reader.stacks) == (try Fixture.text("pyspy/record.folded")))
        #expect(reader.stacks.stacks.contains { String(decoding: $0, as: UTF8.self).hasSuffix("fib (pywork.py:13)") })
    }
}
