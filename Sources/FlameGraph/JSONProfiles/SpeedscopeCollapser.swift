/// Collapses speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json)
/// into folded stacks: "sampled" profiles (stacks with weights) and "evented" ones (open and
/// close events, weighted by the time between events).
///
/// Frames are named `name (file:line)` when the file is known, as py-spy names them. Time units
/// are converted to microseconds (rounded) so counts stay whole; other units are kept. When a file
/// holds several profiles (threads), each stack starts with the profile's name.
public enum SpeedscopeCollapser {
    /// Folded stacks of every profile in a speedscope file.
    public static func collapse(_ source: ByteSource) throws -> FoldedStacks {
        let file = try JSONInput.object(source, format: "speedscope")
        guard let shared = file["shared"] as? [String: Any], let frameList = shared["frames"] as? [[String: Any]] else {
            throw InputError("speedscope: no \"shared.frames\"")
        }
        guard let profiles = file["profiles"] as? [[String: Any]] else { throw InputError("speedscope: no \"profiles\"") }
        let names = frameList.map(frameName)
        var stacks = FoldedStacks()
        for profile in profiles {
            let prefix: [UInt8]? = profiles.count > 1 ? JSONInput.frameName(profile["name"] as? String ?? "profile") : nil
            let scale = unitScale(profile["unit"] as? String)
            switch profile["type"] as? String {
            case "sampled":
                try addSampled(profile, names: names, prefix: prefix, scale: scale, to: &stacks)
            case "evented":
                try addEvented(profile, names: names, prefix: prefix, scale: scale, to: &stacks)
            default:
                throw InputError("speedscope: unknown profile type \(profile["type"] ?? "nil")")
            }
        }
        return stacks
    }

    private static func frameName(_ frame: [String: Any]) -> [UInt8] {
        var name = frame["name"] as? String ?? "?"
        if let file = frame["file"] as? String {
            name += " (" + file
            if let line = JSONInput.int64(frame["line"]) { name += ":\(line)" }
            name += ")"
        }
        return JSONInput.frameName(name)
    }

    /// Multiplier to microseconds for time units; 1 for the others.
    private static func unitScale(_ unit: String?) -> Double {
        switch unit {
        case "nanoseconds": return 0.001
        case "microseconds": return 1
        case "milliseconds": return 1_000
        case "seconds": return 1_000_000
        default: return 1
        }
    }

    private static func stackBytes(_ frames: [Int], names: [[UInt8]], prefix: [UInt8]?) throws -> [UInt8] {
        var stack = prefix ?? []
        for index in frames {
            guard names.indices.contains(index) else { throw InputError("speedscope: frame index \(index) out of range") }
            if !stack.isEmpty { stack.append(ASCII.semicolon) }
            stack.append(contentsOf: names[index])
        }
        return stack
    }

    private static func weight(_ value: Double, scale: Double) -> Double {
        scale == 1 ? value : (value * scale).rounded()
    }

    private static func addSampled(
        _ profile: [String: Any], names: [[UInt8]], prefix: [UInt8]?, scale: Double, to stacks: inout FoldedStacks
    ) throws {
        guard let samples = profile["samples"] as? [[Any]] else { throw InputError("speedscope: sampled profile without \"samples\"") }
        let weights = (profile["weights"] as? [Any])?.compactMap(JSONInput.double)
        for (i, sample) in samples.enumerated() {
            let frames = sample.compactMap { JSONInput.int64($0).map(Int.init) }
            guard !frames.isEmpty else { continue }
            let w = weights.flatMap { $0.indices.contains(i) ? $0[i] : nil } ?? 1
            let count = weights == nil ? 1 : weight(w, scale: scale)
            guard count != 0 else { continue }
            stacks.add(try stackBytes(frames, names: names, prefix: prefix), count: count)
        }
    }

    private static func addEvented(
        _ profile: [String: Any], names: [[UInt8]], prefix: [UInt8]?, scale: Double, to stacks: inout FoldedStacks
    ) throws {
        guard let events = profile["events"] as? [[String: Any]] else { throw InputError("speedscope: evented profile without \"events\"") }
        var open: [Int] = []
        var last = JSONInput.double(profile["startValue"]) ?? 0
        for event in events {
            guard let type = event["type"] as? String, let frame = JSONInput.int64(event["frame"]).map(Int.init),
                  let at = JSONInput.double(event["at"]) else {
                throw InputError("speedscope: malformed event \(event)")
            }
            let elapsed = weight(at - last, scale: scale)
            if !open.isEmpty && elapsed > 0 {
                stacks.add(try stackBytes(open, names: names, prefix: prefix), count: elapsed)
            }
            last = at
            switch type {
            case "O":
                open.append(frame)
            case "C":
                guard let top = open.last, top == frame else {
                    throw InputError("speedscope: close event for frame \(frame) does not match the open frame")
                }
                open.removeLast()
            default:
                throw InputError("speedscope: unknown event type \(type)")
            }
        }
    }
}
