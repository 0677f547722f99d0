/// Writing several sets of stacks as one, without merging them into one table first.
extension FoldedStacks {
    /// Calls `body` with the folded text that `sets` merged into one (``merge(_:)``, in order)
    /// would write with ``writeFolded(sorted:_:)``: each set's `orders` entry is its
    /// ``sortedIndices(asLines:)`` (sorted already, on other threads), and the sets are read in
    /// step, equal stacks' counts added in the order of the sets. Sets with baselines are merged
    /// the plain way.
    static func writeFoldedMerging(
        _ sets: [FoldedStacks], orders: [[Int]], _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) rethrows {
        guard sets.count > 1, !sets.contains(where: \.isDifferential) else {
            var all = FoldedStacks()
            for set in sets { all.merge(set) }
            try all.writeFolded(body)
            return
        }
        try withStorages(sets[...], []) { storages in
            try writeInStep(sets, storages, orders, body)
        }
    }

    private typealias Storage = (bytes: UnsafeBufferPointer<UInt8>, spans: KeySpans)

    private static func withStorages<R>(
        _ sets: ArraySlice<FoldedStacks>, _ done: [Storage], _ body: ([Storage]) throws -> R
    ) rethrows -> R {
        guard let first = sets.first else { return try body(done) }
        return try first.withStorage { bytes, spans in try withStorages(sets.dropFirst(), done + [(bytes, spans)], body) }
    }

    private static func writeInStep(
        _ sets: [FoldedStacks], _ storages: [Storage], _ orders: [[Int]], _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) rethrows {
        // The byte order of stackcollapse-perf.pl's sort: memcmp, then the shorter first.
        func compare(_ p: Int, _ i: Int, _ q: Int, _ j: Int) -> Int {
            let a = storages[p].spans[i], b = storages[q].spans[j]
            let n = min(a.count, b.count)
            if n > 0 {
                let c = memcmpBytes(storages[p].bytes.baseAddress! + a.lowerBound, storages[q].bytes.baseAddress! + b.lowerBound, n)
                if c != 0 { return Int(c) }
            }
            return a.count - b.count
        }
        var heads = [Int](repeating: 0, count: sets.count)
        var out: [UInt8] = []
        out.reserveCapacity(1 << 18)
        while true {
            // The smallest head; on a tie, the earlier set (whose count comes first).
            var best = -1
            for p in sets.indices where heads[p] < orders[p].count {
                if best < 0 || compare(p, orders[p][heads[p]], best, orders[best][heads[best]]) < 0 { best = p }
            }
            guard best >= 0 else { break }
            let i = orders[best][heads[best]]
            heads[best] += 1
            var count = sets[best].counts[i]
            // A set holds a stack once, so each later set has at most one equal head.
            for p in (best + 1)..<sets.count where heads[p] < orders[p].count {
                let j = orders[p][heads[p]]
                if compare(p, j, best, i) == 0 {
                    count += sets[p].counts[j]
                    heads[p] += 1
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: storages[best].bytes[storages[best].spans[i]]))
            out.append(ASCII.space)
            NumberFormat.appendPerl(count, to: &out)
            out.append(ASCII.newline)
            if out.count >= 1 << 18 {
                try out.withUnsafeBufferPointer(body)
                out.removeAll(keepingCapacity: true)
            }
        }
        if !out.isEmpty { try out.withUnsafeBufferPointer(body) }
    }
}
