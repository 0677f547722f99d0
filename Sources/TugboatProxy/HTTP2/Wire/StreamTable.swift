/// Values by HTTP/2 stream id, for one connection's open streams: what a `Dictionary` did, at a
/// fraction of its cost. A stream's request is looked up a dozen times on its way through (its
/// HEADERS, DATA, the response's frames, its end), and each `Dictionary` lookup hashed the id with
/// SipHash: callgrind counted ~4,000 instructions per HTTP/2 request in hashing and probing alone,
/// a tenth of all of them.
///
/// Open addressing with linear probing and backward-shift deletion (no tombstones), the id spread
/// by a multiplicative hash, at most half full. Ids are never 0 (stream 0 is the connection), so 0
/// marks an empty slot. A client chooses its ids, but only increasing ones, and how many are open
/// at once is capped by SETTINGS_MAX_CONCURRENT_STREAMS: the worst a chosen pattern can do is a
/// probe as long as that cap.
struct StreamTable<Value> {
    private var ids: [UInt32]
    private var slots: [Value?]
    private var shift: UInt32
    private(set) var count = 0

    init(minimumCapacity: Int = 8) {
        var bits: UInt32 = 3
        while (1 << bits) < minimumCapacity * 2 { bits += 1 }
        ids = Array(repeating: 0, count: 1 << bits)
        slots = Array(repeating: nil, count: 1 << bits)
        shift = 32 - bits
    }

    var isEmpty: Bool { count == 0 }

    subscript(id: UInt32) -> Value? {
        get {
            guard let index = index(of: id) else { return nil }
            return slots[index]
        }
        set {
            if let newValue { insert(newValue, for: id) } else { removeValue(forKey: id) }
        }
    }

    /// Runs `body` on the value for `id` in place (no copy of it made); nil when there is none.
    mutating func update<Result>(_ id: UInt32, _ body: (inout Value) -> Result) -> Result? {
        guard let index = index(of: id) else { return nil }
        return body(&slots[index]!)
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt32) -> Value? {
        guard var hole = index(of: id) else { return nil }
        let removed = slots[hole].take()
        ids[hole] = 0
        count -= 1
        // Backward shift: entries after the hole that would not be found past it move into it.
        let mask = ids.count - 1
        var next = (hole + 1) & mask
        while ids[next] != 0 {
            let home = self.home(ids[next])
            let staysPut = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if !staysPut {
                ids[hole] = ids[next]
                slots[hole] = slots[next].take()
                ids[next] = 0
                hole = next
            }
            next = (next + 1) & mask
        }
        return removed
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        for index in ids.indices where ids[index] != 0 {
            ids[index] = 0
            slots[index] = nil
        }
        count = 0
    }

    /// A copy of the values, in no particular order: the table may change while they are visited.
    var values: [Value] {
        var result: [Value] = []
        result.reserveCapacity(count)
        for index in ids.indices where ids[index] != 0 { result.append(slots[index]!) }
        return result
    }

    var keys: [UInt32] { ids.filter { $0 != 0 } }

    /// Runs `body` on every value in place.
    mutating func updateEach(_ body: (inout Value) -> Void) {
        for index in ids.indices where ids[index] != 0 { body(&slots[index]!) }
    }

    // MARK: Probing

    @inline(__always)
    private func home(_ id: UInt32) -> Int { Int((id &* 0x9E37_79B9) >> shift) }

    @inline(__always)
    private func index(of id: UInt32) -> Int? {
        guard id != 0 else { return nil }
        let mask = ids.count - 1
        var index = home(id)
        while true {
            let found = ids[index]
            if found == id { return index }
            if found == 0 { return nil }
            index = (index + 1) & mask
        }
    }

    private mutating func insert(_ value: Value, for id: UInt32) {
        precondition(id != 0, "stream 0 is the connection")
        if let index = index(of: id) {
            slots[index] = value
            return
        }
        if (count + 1) * 2 > ids.count { grow() }
        let mask = ids.count - 1
        var index = home(id)
        while ids[index] != 0 { index = (index + 1) & mask }
        ids[index] = id
        slots[index] = value
        count += 1
    }

    private mutating func grow() {
        var larger = StreamTable(minimumCapacity: ids.count)
        for index in ids.indices where ids[index] != 0 { larger.insert(slots[index].take()!, for: ids[index]) }
        self = larger
    }
}
