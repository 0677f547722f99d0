/// Picks a backend for a request on one event loop. Not thread-safe: one per loop.
struct Balancer {
    enum Algorithm { case roundRobin, leastRequest }

    let algorithm: Algorithm
    private var cursor: Int = 0
    private var random = FastRandom()

    init(algorithm: Algorithm) {
        self.algorithm = algorithm
        self.cursor = Int.random(in: 0..<1024)
    }

    /// Chooses among `candidates`, skipping those in `excluded` (backends already tried for this request).
    mutating func pick(from candidates: [ProxyBackend], excluding excluded: TriedBackends) -> ProxyBackend? {
        let count = candidates.count
        if count == 0 { return nil }
        if excluded.isEmpty {
            return pickAmong(candidates)
        }
        let remaining = candidates.filter { !excluded.contains($0) }
        return remaining.isEmpty ? nil : pickAmong(remaining)
    }

    private mutating func pickAmong(_ candidates: [ProxyBackend]) -> ProxyBackend {
        let count = candidates.count
        if count == 1 { return candidates[0] }
        switch algorithm {
        case .roundRobin:
            cursor &+= 1
            return candidates[Int(UInt(bitPattern: cursor) % UInt(count))]
        case .leastRequest:
            // Power of two choices: two distinct random backends, the one with fewer in-flight requests.
            let first = random.next(below: count)
            var second = random.next(below: count - 1)
            if second >= first { second += 1 }
            let a = candidates[first], b = candidates[second]
            return a.inflightRequests <= b.inflightRequests ? a : b
        }
    }
}

/// xorshift64*: cheap, good enough for load balancing, no locks.
struct FastRandom {
    private var state: UInt64 = UInt64.random(in: 1...UInt64.max)

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }

    mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}
