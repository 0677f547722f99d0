/// An open-addressing table from byte strings to 32-bit values that keeps only a 96-bit
/// fingerprint of each string (64 bits of one hash, 32 of an independent one), not the string:
/// one memory access per lookup. Used for the collapser's cache of stack lines, whose distinct
/// values are few; the chance that two different lines share a fingerprint is about n² / 2⁹⁷
/// (for a million distinct lines, 10⁻¹⁷).
struct FingerprintTable: Sendable {
    struct Fingerprint: Equatable {
        var a: UInt64
        var b: UInt64
    }

    /// Two words a slot: the fingerprint's `a`, then `b`'s high half and value + 1 (0: empty).
    /// Sixteen bytes a slot keep a table of tens of thousands of lines within a core's L2 cache.
    private var slots: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 4096) {
        var size = 16
        while size * 7 < capacity * 10 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size * 2)
        mask = size - 1
    }

    /// The value stored for `fingerprint`, or nil.
    func find(_ fingerprint: Fingerprint) -> UInt32? {
        let high = fingerprint.b & 0xFFFF_FFFF_0000_0000
        return slots.withUnsafeBufferPointer { s in
            var slot = Int(truncatingIfNeeded: fingerprint.a) & mask
            while true {
                let second = s[slot &* 2 &+ 1]
                if second == 0 { return nil }
                if s[slot &* 2] == fingerprint.a && second & 0xFFFF_FFFF_0000_0000 == high {
                    return UInt32(truncatingIfNeeded: second) &- 1
                }
                slot = (slot &+ 1) & mask
            }
        }
    }

    /// The first word of the slot where a lookup of `fingerprint` starts: loading it ahead of
    /// ``find(_:)`` brings the slot into the cache.
    @inline(__always)
    func firstSlot(_ fingerprint: Fingerprint) -> UInt64 {
        slots.withUnsafeBufferPointer { $0[(Int(truncatingIfNeeded: fingerprint.a) & mask) &* 2 &+ 1] }
    }

    /// Calls `body` with every stored fingerprint (as much of it as is kept, which is what
    /// ``find(_:)`` compares) and its value.
    func forEach(_ body: (Fingerprint, UInt32) -> Void) {
        for i in stride(from: 0, to: slots.count, by: 2) where slots[i + 1] != 0 {
            let second = slots[i + 1]
            body(Fingerprint(a: slots[i], b: second), UInt32(truncatingIfNeeded: second) &- 1)
        }
    }

    /// Stores `value` (less than `UInt32.max`) for a fingerprint not yet in the table.
    mutating func insert(_ fingerprint: Fingerprint, value: UInt32) {
        if (count + 1) * 10 > (mask + 1) * 7 { grow() }
        var slot = Int(truncatingIfNeeded: fingerprint.a) & mask
        while slots[slot * 2 + 1] != 0 { slot = (slot + 1) & mask }
        slots[slot * 2] = fingerprint.a
        slots[slot * 2 + 1] = (fingerprint.b & 0xFFFF_FFFF_0000_0000) | UInt64(value &+ 1)
        count += 1
    }

    private mutating func grow() {
        let old = slots
        let size = (mask + 1) * 2
        slots = [UInt64](repeating: 0, count: size * 2)
        mask = size - 1
        count = 0
        for i in stride(from: 0, to: old.count, by: 2) where old[i + 1] != 0 {
            let second = old[i + 1]
            insert(Fingerprint(a: old[i], b: second), value: UInt32(truncatingIfNeeded: second) &- 1)
        }
    }

    /// The fingerprint of `key`, with `seed` telling apart keys that must not share values.
    static func fingerprint(_ key: UnsafeBufferPointer<UInt8>, seed: UInt64 = 0) -> Fingerprint {
        var (a, b) = start(seed)
        guard let base = key.baseAddress else { return finish(a, b, length: 0) }
        let raw = UnsafeRawPointer(base)
        var i = 0
        let n = key.count
        while i + 8 <= n {
            add(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self), &a, &b)
            i += 8
        }
        if i < n { addTail(loadTail(base, from: i, to: n), &a, &b) }
        return finish(a, b, length: n)
    }

    /// The line starting at `start` (up to the next newline, or `limit`): its end and the
    /// ``fingerprint(_:seed:)`` of its bytes, found in one pass, eight bytes at a time.
    static func fingerprintLine(
        _ base: UnsafePointer<UInt8>, from start: Int, limit: Int, seed: UInt64
    ) -> (fingerprint: Fingerprint, end: Int) {
        var (a, b) = Self.start(seed)
        let raw = UnsafeRawPointer(base)
        var i = start
        while i + 8 <= limit {
            let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // The lowest byte equal to '\n' (the borrow can only mark bytes above it).
            let x = word ^ 0x0A0A_0A0A_0A0A_0A0A
            let newlines = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if newlines != 0 {
                let before = newlines.trailingZeroBitCount / 8
                if before > 0 { addTail(word & ((1 << UInt64(8 * before)) - 1), &a, &b) }
                return (finish(a, b, length: i + before - start), i + before)
            }
            add(word, &a, &b)
            i += 8
        }
        var end = i
        while end < limit, base[end] != ASCII.newline { end += 1 }
        if end > i { addTail(loadTail(base, from: i, to: end), &a, &b) }
        return (finish(a, b, length: end - start), end)
    }

    @inline(__always)
    private static func start(_ seed: UInt64) -> (UInt64, UInt64) {
        (0x243F_6A88_85A3_08D3 ^ (seed &* 0x9E37_79B9_7F4A_7C15), 0x1319_8A2E_0370_7344 &+ seed)
    }

    @inline(__always)
    private static func add(_ word: UInt64, _ a: inout UInt64, _ b: inout UInt64) {
        a = (a ^ word) &* 0x9E37_79B9_7F4A_7C15
        a ^= a >> 29
        b = (b &+ word) &* 0xC2B2_AE3D_27D4_EB4F
        b ^= b >> 31
    }

    @inline(__always)
    private static func addTail(_ tail: UInt64, _ a: inout UInt64, _ b: inout UInt64) {
        a = (a ^ tail) &* 0x9E37_79B9_7F4A_7C15
        b = (b &+ tail) &* 0xC2B2_AE3D_27D4_EB4F
    }

    @inline(__always)
    private static func finish(_ a: UInt64, _ b: UInt64, length: Int) -> Fingerprint {
        Fingerprint(a: mix(a ^ UInt64(length)), b: mix(b &+ UInt64(length) &* 0x9E37_79B9_7F4A_7C15))
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        var h = x
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        h = (h ^ (h >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 33)
    }
}
