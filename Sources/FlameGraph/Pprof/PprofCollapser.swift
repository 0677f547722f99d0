/// Collapses a pprof profile (`profile.proto`, gzipped or not) into folded stacks.
public enum PprofCollapser {
    /// The sample types in a profile, in order (e.g. `samples`, `cpu`).
    public static func sampleTypes(_ source: ByteSource) throws -> [String] {
        try profile(source).sampleTypes
    }

    /// Folded stacks of `source`, weighted by the sample value `sampleType` (a name such as
    /// `cpu` or `alloc_space`, or an index); by default the one pprof shows: the profile's
    /// default sample type, else the last.
    public static func collapse(_ source: ByteSource, sampleType: String? = nil) throws -> FoldedStacks {
        let profile = try profile(source)
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

    private static func profile(_ source: ByteSource) throws -> PprofProfile {
        var data = try source.readAll()
        if data.count >= 2, data[0] == 0x1F, data[1] == 0x8B {
            data = try Gzip.decompress(data)
        }
        return try data.withUnsafeBufferPointer { try PprofProfile(decoding: $0) }
    }
}
