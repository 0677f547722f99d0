/// Collapses stackprof's JSON (`stackprof out.dump --json`, profiled with `raw: true`) into
/// folded stacks, like `stackprof --stackcollapse`.
public enum StackprofCollapser {
    /// Folded stacks of the raw samples of a stackprof JSON report.
    public static func collapse(_ source: ByteSource) throws -> FoldedStacks {
        let report = try JSONInput.object(source, format: "stackprof")
        guard let frames = report["frames"] as? [String: Any] else { throw InputError("stackprof: no \"frames\"") }
        guard let raw = report["raw"] as? [Any] else {
            throw InputError("stackprof: no \"raw\" samples (profile with StackProf.run(raw: true, ...))")
        }
        var names: [Int64: [UInt8]] = [:]
        for (key, value) in frames {
            guard let id = Int64(key), let frame = value as? [String: Any] else { continue }
            names[id] = JSONInput.frameName(frame["name"] as? String ?? key)
        }
        let values = raw.compactMap(JSONInput.int64)
        guard values.count == raw.count else { throw InputError("stackprof: \"raw\" must hold only integers") }
        var stacks = FoldedStacks()
        var stack: [UInt8] = []
        var i = 0
        // raw: [depth, frame ids root first..., weight] repeated.
        while i < values.count {
            let depth = Int(values[i])
            guard depth >= 0, i + depth + 1 < values.count else { throw InputError("stackprof: truncated \"raw\" array") }
            stack.removeAll(keepingCapacity: true)
            for k in 0..<depth {
                if k > 0 { stack.append(ASCII.semicolon) }
                let id = values[i + 1 + k]
                stack.append(contentsOf: names[id] ?? Array(String(id).utf8))
            }
            let weight = values[i + 1 + depth]
            if depth > 0, weight != 0 { stacks.add(stack, count: Double(weight)) }
            i += depth + 2
        }
        return stacks
    }
}
