/// Combines two profiles into one differential profile, as difffolded.pl does: every stack
/// of either input with its "before" and "after" count.
public struct DifferentialStacks: Sendable {
    /// `-n`/`--normalize`: scale the "before" counts so both profiles have the same total.
    public var normalize = false
    /// `-s`/`--strip-hex`: replace hexadecimal numbers (`0x7f3a…`) with `0x...` so addresses
    /// that differ between runs do not split stacks.
    public var stripHex = false

    /// Makes a combiner with difffolded.pl's defaults (no normalising, no stripping).
    public init(normalize: Bool = false, stripHex: Bool = false) {
        self.normalize = normalize
        self.stripHex = stripHex
    }

    /// Stacks with `baseline` = count in `before`, count = count in `after`.
    public func combine(before: FoldedStacks, after: FoldedStacks) -> FoldedStacks {
        var counts: [[UInt8]: (Double, Double)] = [:]
        var order: [[UInt8]] = []
        func add(_ profile: FoldedStacks, second: Bool) {
            for i in 0..<profile.count {
                let stack = Array(profile.stack(i))
                let key = stripHex ? Self.stripHex(stack) : stack
                var entry = counts[key] ?? {
                    order.append(key)
                    return (0, 0)
                }()
                if second { entry.1 += profile.counts[i] } else { entry.0 += profile.counts[i] }
                counts[key] = entry
            }
        }
        add(before, second: false)
        add(after, second: true)
        let total1 = before.total, total2 = after.total
        var result = FoldedStacks()
        for key in order {
            guard let entry = counts[key] else { continue }
            var c1 = entry.0
            let c2 = entry.1
            if normalize && total1 != total2 && total1 > 0 {
                c1 = (c1 * total2 / total1).rounded(.towardZero)
            }
            result.add(key, count: c2, baseline: c1)
        }
        return result
    }

    /// `s/0x[0-9a-fA-F]+/0x.../g`
    static func stripHex(_ stack: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(stack.count)
        var i = 0
        while i < stack.count {
            if stack[i] == ASCII.zero, i + 2 < stack.count, stack[i + 1] == 0x78, ASCII.isHex(stack[i + 2]) {
                out.append(contentsOf: "0x...".utf8)
                i += 2
                while i < stack.count, ASCII.isHex(stack[i]) { i += 1 }
            } else {
                out.append(stack[i])
                i += 1
            }
        }
        return out
    }
}
