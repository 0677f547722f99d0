/// Collapses a pprof profile (`profile.proto`, gzipped or not) into folded stacks.
///
/// A gzipped profile is inflated to at most `maximumDecompressedSize` bytes (64 MiB by default);
/// beyond that ``DecompressionLimitExceeded`` is thrown, having held no more than that.
public enum PprofCollapser {
    /// The most bytes a gzipped profile may inflate to unless the caller says otherwise.
    public static let defaultMaximumDecompressedSize = 64 << 20

    /// The sample types in a profile, in order (e.g. `samples`, `cpu`).
    public static func sampleTypes(_ source: ByteSource, maximumDecompressedSize: Int = defaultMaximumDecompressedSize) throws -> [String] {
        try profile(source, maximumDecompressedSize: maximumDecompressedSize).sampleTypes
    }

    /// The profile's bytes, inflated when they are gzip (at most `maximumDecompressedSize`), as they are otherwise.
    public static func inflated(_ bytes: [UInt8], maximumDecompressedSize: Int = defaultMaximumDecompressedSize) throws -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else { return bytes }
        return try Gzip.decompress(bytes, limit: maximumDecompressedSize)
    }

    /// Folded stacks of `source`, weighted by the sample value `sampleType` (a name such as
    /// `cpu` or `alloc_space`, or an index); by default the one pprof shows: the profile's
    /// default sample type, else the last.
    public static func collapse(_ source: ByteSource, sampleType: String? = nil,
                                maximumDecompressedSize: Int = defaultMaximumDecompressedSize) throws -> FoldedStacks {
        let profile = try profile(source, maximumDecompressedSize: maximumDecompressedSize)
        let index = try profile.sampleIndex(sampleType)
        var names: [UInt64: [UInt8]] = [:]
        for (id, name) in profile.functionNames { names[id] = sanitize(name) }
        var stacks = FoldedStacks()
        var stack: [UInt8] = []
        for sample in profile.samples {
            guard index < sample.values.count, sample.values[index] != 0 else { continue }
            stack.removeAll(keepingCapacity: true)
            for locationID in sample.locations.reversed() {
                let location = profile.locations[locationID]
                let functions = location?.functionIDs ?? []
                if functions.isEmpty {
                    if !stack.isEmpty { stack.append(ASCII.semicolon) }
                    stack.append(contentsOf: "0x\(String(location?.address ?? locationID, radix: 16))".utf8)
                }
                for functionID in functions.reversed() {
                    if !stack.isEmpty { stack.append(ASCII.semicolon) }
                    stack.append(contentsOf: names[functionID] ?? Array("0x\(String(location?.address ?? 0, radix: 16))".utf8))
                }
            }
            guard !stack.isEmpty else { continue }
            stacks.add(stack, count: Double(sample.values[index]))
        }
        return stacks
    }

    /// Frame names may not contain the separators of the folded format.
    static func sanitize(_ name: String) -> [UInt8] {
        Array(name.utf8).map { b in
            switch b {
            case ASCII.semicolon: return ASCII.colon
            case ASCII.newline, ASCII.carriageReturn: return ASCII.space
            default: return b
            }
        }
    }

    private static func profile(_ source: ByteSource, maximumDecompressedSize: Int) throws -> PprofProfile {
        let data = try inflated(source.readAll(), maximumDecompressedSize: maximumDecompressedSize)
        return try data.withUnsafeBufferPointer { try PprofProfile(decoding: $0) }
    }
}
