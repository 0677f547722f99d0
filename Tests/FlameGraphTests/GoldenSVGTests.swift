import Foundation
import Testing
@testable import FlameGraph

/// Golden files are this renderer's own output, reviewed by eye in Chromium when they change.
/// Set FLAMEGRAPH_UPDATE_GOLDEN=1 to rewrite them.
@Suite struct GoldenSVGTests {
    static let cases: [(String, String, @Sendable (inout FlameGraphOptions) -> Void)] = [
        ("features", "folded/features.folded", { _ in }),
        ("features-icicle", "folded/features.folded", { $0.inverted = true; $0.title = "Icicle <test>"; $0.subtitle = "subtitle & more"; $0.palette = .java }),
        ("features-reverse-hash", "folded/features.folded", { $0.reverse = true; $0.hashColors = true; $0.width = 900; $0.frameHeight = 20 }),
        ("record-mixed", "perf/record-mixed.plain.folded", { _ in }),
    ]

    @Test(arguments: 0..<cases.count)
    func rendersLikeTheGoldenFile(_ index: Int) throws {
        let (name, input, change) = Self.cases[index]
        var options = FlameGraphOptions()
        change(&options)
        let stacks = try FoldedReader.read(.file(Fixture.path(input))).stacks
        let svg = FlameGraphRenderer(options: options).render(stacks)
        let golden = "golden/\(name).svg"
        if ProcessInfo.processInfo.environment["FLAMEGRAPH_UPDATE_GOLDEN"] == "1" {
            try Data(svg).write(to: URL(fileURLWithPath: Fixture.path(golden)))
        }
        let expected = try Fixture.bytes(golden)
        #expect(svg == expected, "\(name): rendered SVG differs from \(golden)")
    }

    @Test func differentialGolden() throws {
        let before = try FoldedReader.read(.file(Fixture.path("folded/before.folded"))).stacks
        let after = try FoldedReader.read(.file(Fixture.path("folded/after.folded"))).stacks
        let svg = FlameGraphRenderer().render(DifferentialStacks().combine(before: before, after: after))
        if ProcessInfo.processInfo.environment["FLAMEGRAPH_UPDATE_GOLDEN"] == "1" {
            try Data(svg).write(to: URL(fileURLWithPath: Fixture.path("golden/diff.svg")))
        }
        #expect(svg == (try Fixture.bytes("golden/diff.svg")))
    }
}
