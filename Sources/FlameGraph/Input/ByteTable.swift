/// An open-addressing hash table from byte strings to dense integer ids (0, 1, 2, …), with
/// the keys stored back to back in one arena: no allocation per lookup, none per key.
///
/// A table made with ``init(borrowing:)`` keeps its keys as ranges of bytes it does not own (a
/// mapped file) until it is given a key from elsewhere or asked to index one; it then copies
/// them into its arena.
struct ByteTable: Sendable {
    private var slots: [UInt64]         // (id + 1) << 32 | low 32 bits of the hash; 0 when empty
    private var hashes: [UInt64] = []   // per id
    private var offsets: [Int] = [0]    // per id: start of its key in `arena`; one extra at the end
    private(set) var arena: [UInt8] = []
    private var mask: Int
    /// The borrowed bytes; `offsets` then holds each key's start (no extra) and `ends` its end.
    private var borrowed: MappedFile?
    private var ends: [Int] = []

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    /// An empty table whose keys, given with ``appendUnindexed(_:)`` from inside `bytes`, stay there.
    init(borrowing bytes: MappedFile) {
        self.init(capacity: 8)
        borrowed = bytes
        offsets = []
    }

    /// The number of keys.
    var count: Int { hashes.count }

    /// The bytes the keys take.
    var byteCount: Int {
        guard borrowed != nil else { return arena.count }
        var total = 0
        for id in offsets.indices { total += ends[id] - offsets[id] }
        return total
    }

    /// Where key `id` is in the storage (``withKeys(_:)``).
    private func span(_ id: Int) -> Range<Int> {
        borrowed == nil ? offsets[id]..<offsets[id + 1] : offsets[id]..<ends[id]
    }

    /// The key with this id.
    func key(_ id: Int) -> ArraySlice<UInt8> {
        guard let borrowed else { return arena[span(id)] }
        return ArraySlice(borrowed.bytes[span(id)])
    }

    /// The length in bytes of the key with this id.
    func keyLength(_ id: Int) -> Int { span(id).count }

    /// Copies borrowed keys into the arena (ids, hashes and the index stay as they are).
    private mutating func ownKeys() {
        guard let source = borrowed else { return }
        var owned: [UInt8] = []
        owned.reserveCapacity(byteCount)
        var starts = [0]
        starts.reserveCapacity(offsets.count + 1)
        for id in offsets.indices {
            owned.append(contentsOf: UnsafeBufferPointer(rebasing: source.bytes[offsets[id]..<ends[id]]))
            starts.append(owned.count)
        }
        arena = owned
        offsets = starts
        ends = []
        borrowed = nil
    }

    /// The id of `key`, inserting it when new; `inserted` tells which.
    mutating func id(of key: UnsafeBufferPointer<UInt8>) -> (id: Int, inserted: Bool) {
        id(of: key, hash: Self.hash(key))
    }

    /// The hash ``id(of:)`` computed for key `id` (0 for keys stored unindexed).
    func storedHash(_ id: Int) -> UInt64 { hashes[id] }

    /// ``id(of:)`` for a key whose ``hash(_:)`` is known already (from another table's
    /// ``storedHash(_:)``, say).
    mutating func id(of key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (id: Int, inserted: Bool) {
        ownKeys()
        let tag = h & 0xFFFF_FFFF
        var slot = Int(truncatingIfNeeded: h >> 32) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { break }
            let id = Int(entry >> 32) - 1
            if entry & 0xFFFF_FFFF == tag && equals(id, key) { return (id, false) }
            slot = (slot + 1) & mask
        }
        let id = hashes.count
        slots[slot] = UInt64(id + 1) << 32 | tag
        hashes.append(h)
        arena.append(contentsOf: key)
        offsets.append(arena.count)
        if hashes.count * 2 > slots.count { grow() }
        return (id, true)
    }

    /// Makes room for `keys` keys of `bytes` bytes in all (`indexed: false`: for keys stored with
    /// ``appendUnindexed(_:)``, which need no index).
    mutating func reserve(keys: Int, bytes: Int, indexed: Bool = true) {
        if borrowed == nil { arena.reserveCapacity(bytes) } else { ends.reserveCapacity(keys) }
        offsets.reserveCapacity(keys + 1)
        hashes.reserveCapacity(keys)
        if indexed, keys * 2 > slots.count {
            var size = slots.count
            while size < keys * 2 { size <<= 1 }
            rehash(size: size)
        }
    }

    /// Stores `key` under a new id without indexing it (``find`` will not see it, and it is not
    /// hashed: a table is either indexed or not).
    mutating func appendUnindexed(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        let id = hashes.count
        if let borrowed {
            if let range = borrowed.range(of: key) {
                hashes.append(0)
                offsets.append(range.lowerBound)
                ends.append(range.upperBound)
                return id
            }
            ownKeys()
        }
        hashes.append(0)
        arena.append(contentsOf: key)
        offsets.append(arena.count)
        return id
    }

    /// Calls `body` with the storage of the keys and where each key is in it.
    func withKeys<R>(_ body: (UnsafeBufferPointer<UInt8>, KeySpans) throws -> R) rethrows -> R {
        if let borrowed {
            return try offsets.withUnsafeBufferPointer { s in
                try ends.withUnsafeBufferPointer { e in try body(borrowed.bytes, KeySpans(starts: s, ends: e)) }
            }
        }
        return try arena.withUnsafeBufferPointer { a in
            try offsets.withUnsafeBufferPointer { o in
                try body(a, KeySpans(starts: o, ends: UnsafeBufferPointer(rebasing: o.dropFirst())))
            }
        }
    }

    /// The id of `key`, or nil.
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        let h = Self.hash(key)
        let tag = h & 0xFFFF_FFFF
        var slot = Int(truncatingIfNeeded: h >> 32) & mask
        return slots.withUnsafeBufferPointer { slots in
            while true {
                let entry = slots[slot]
                if entry == 0 { return nil }
                let id = Int(entry >> 32) - 1
                if entry & 0xFFFF_FFFF == tag && equals(id, key) { return id }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Whether key `id` is `key`.
    func equals(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let span = span(id)
        let start = span.lowerBound, length = span.count
        guard length == key.count else { return false }
        if length == 0 { return true }
        if let borrowed { return memcmpBytes(borrowed.bytes.baseAddress! + start, key.baseAddress!, length) == 0 }
        return arena.withUnsafeBufferPointer { memcmpBytes($0.baseAddress! + start, key.baseAddress!, length) == 0 }
    }

    private mutating func grow() { rehash(size: slots.count * 2) }

    /// Rebuilds the index with `size` slots (a power of two).
    private mutating func rehash(size: Int) {
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        for id in hashes.indices {
            let h = hashes[id]
            var slot = Int(truncatingIfNeeded: h >> 32) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = UInt64(id + 1) << 32 | (h & 0xFFFF_FFFF)
        }
    }

    /// A fast 64-bit hash, eight bytes at a time.
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(key.count)
        guard let base = key.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        let n = key.count
        while i + 8 <= n {
            let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        if i < n {
            let tail = loadTail(base, from: i, to: n)
            h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
        }
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }
}

/// Where each key of a ``ByteTable`` is in its storage: key `i` is `starts[i]..<ends[i]`.
struct KeySpans {
    let starts: UnsafeBufferPointer<Int>
    let ends: UnsafeBufferPointer<Int>

    @inline(__always)
    subscript(_ i: Int) -> Range<Int> { starts[i]..<ends[i] }
}

/// The last `to - from` (< 8) bytes of a key as a little-endian word, for the word-at-a-time hashes.
@inline(__always)
func loadTail(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> UInt64 {
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    for i in start..<end {
        tail |= UInt64(base[i]) << shift
        shift += 8
    }
    return tail
}
