import FlameGraph

/// A pprof body (profile.proto, gzipped or not) as folded stacks weighed as pprof shows them,
/// plus its sample count (the `samples` value when the profile has one).
struct PprofProfile: Sendable {
    var stacks: FoldedStacks
    var sampleCount: Int
    var countName: String

    /// - Parameter maximumDecompressedSize: a gzipped body may inflate to this many bytes at most
    ///   (``DecompressionLimitExceeded`` beyond); it is inflated once.
    init(_ body: [UInt8], maximumDecompressedSize: Int) throws {
        let source = ByteSource.bytes(try PprofCollapser.inflated(body, maximumDecompressedSize: maximumDecompressedSize))
        stacks = try PprofCollapser.collapse(source)
        let types = try PprofCollapser.sampleTypes(source)
        if let samples = types.firstIndex(where: { $0 == "samples" || $0.hasPrefix("samples/") }) {
            sampleCount = Int(try PprofCollapser.collapse(source, sampleType: String(samples)).total)
        } else {
            sampleCount = Int(stacks.total)
        }
        countName = Self.countName(types)
    }

    /// What the default weights are, for the graph ("cpu/nanoseconds" → "nanoseconds").
    private static func countName(_ types: [String]) -> String {
        guard let last = types.last, let slash = last.firstIndex(of: "/") else { return "samples" }
        return String(last[last.index(after: slash)...])
    }
}
