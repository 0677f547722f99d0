/// The collapser's stacks as paths in a tree, so that a sample costs one small lookup per frame
/// group instead of building its stack's bytes and hashing them.
///
/// A node is (parent, label): a root's label is a process name, any other node's a frame group
/// (the frames one `perf script` line adds, already tidied and joined with `;`). Names and groups
/// are interned once, by their bytes; a sample walks from its root down its groups and adds its
/// count to the node it ends on. ``settle(into:)`` writes every node that ended a sample as
/// folded bytes, once, at the end.
struct StackTrie: Sendable {
    /// The parent of a root.
    static let none = UInt32.max

    /// Interned process names (labels of roots) and frame groups (labels of the others).
    private var names = ByteTable(capacity: 64)
    private var groups = ByteTable(capacity: 4096)
    /// Per node: its parent, its label, and the length of its whole stack in bytes.
    private var parents: [UInt32] = []
    private var labels: [UInt32] = []
    private var lengths: [Int] = []
    /// Per node: the samples' counts that ended there; and which nodes ended a sample, in the
    /// order they first did.
    private var counts: [Double] = []
    private var ended: [Bool] = []
    private var sampled: [UInt32] = []
    /// Open addressing from (parent, label) to node: two words a slot, the key (`parent << 32 |
    /// label`, all ones when empty) and the node.
    private var slots: [UInt64]
    private var mask: Int

    init(capacity: Int = 8192) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Self.emptySlots(size)
        mask = size - 1
    }

    /// A trie whose frame groups are `groups`, interned already: ``group(_:)`` is then not
    /// called, so several tries share the table's storage.
    init(groups: ByteTable, capacity: Int = 8192) {
        self.init(capacity: capacity)
        self.groups = groups
    }

    /// Whether no sample is held.
    var isEmpty: Bool { sampled.isEmpty }

    /// The id of frame group `bytes`, interning it when new.
    mutating func group(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        UInt32(truncatingIfNeeded: groups.id(of: bytes).id)
    }

    /// The root node of process `name`.
    mutating func root(_ name: [UInt8]) -> UInt32 {
        let label = name.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: names.id(of: $0).id) }
        return node(parent: Self.none, label: label, labelLength: name.count)
    }

    /// The node below `parent` for frame group `group`.
    @inline(__always)
    mutating func child(_ parent: UInt32, group: UInt32) -> UInt32 {
        node(parent: parent, label: group, labelLength: -1)
    }

    /// Adds a sample of `count` ending at `node`.
    mutating func add(_ node: UInt32, count: Double) {
        let i = Int(node)
        if !ended[i] {
            ended[i] = true
            sampled.append(node)
        }
        counts[i] += count
    }

    /// Adds every sampled stack to `stacks` as bytes (the name, then each group, `;` between),
    /// in the order they were first sampled, and forgets the counts (the nodes and interned
    /// labels stay: a line cache may still name the groups).
    mutating func settle(into stacks: inout FoldedStacks) {
        guard !sampled.isEmpty else { return }
        var total = 0
        for node in sampled { total += lengths[Int(node)] }
        stacks.reserveCapacity(stacks: stacks.count + sampled.count, bytes: stacks.byteCount + total)
        var longest = 0
        for node in sampled { longest = max(longest, lengths[Int(node)]) }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, longest))
        defer { buffer.deallocate() }
        names.withKeys { nameBytes, nameSpans in
            groups.withKeys { groupBytes, groupSpans in
                for node in sampled {
                    // Written from the leaf back to the root.
                    var n = Int(node)
                    var end = lengths[n]
                    let length = end
                    while true {
                        let label = Int(labels[n])
                        let parent = parents[n]
                        let bytes = parent == Self.none ? nameBytes : groupBytes
                        let span = parent == Self.none ? nameSpans[label] : groupSpans[label]
                        let start = span.lowerBound, count = span.count
                        end -= count
                        if count > 0 { (buffer + end).update(from: bytes.baseAddress! + start, count: count) }
                        if parent == Self.none { break }
                        end -= 1
                        buffer[end] = ASCII.semicolon
                        n = Int(parent)
                    }
                    stacks.add(UnsafeBufferPointer(start: buffer, count: length), count: counts[Int(node)])
                }
            }
        }
        for node in sampled {
            counts[Int(node)] = 0
            ended[Int(node)] = false
        }
        sampled.removeAll()
    }

    @inline(__always)
    private mutating func node(parent: UInt32, label: UInt32, labelLength: Int) -> UInt32 {
        let key = UInt64(parent) << 32 | UInt64(label)
        var slot = Self.slot(key, mask)
        let found: UInt32? = slots.withUnsafeBufferPointer { s in
            while true {
                let k = s[slot &* 2]
                if k == key { return UInt32(truncatingIfNeeded: s[slot &* 2 &+ 1]) }
                if k == Self.empty { return nil }
                slot = (slot &+ 1) & mask
            }
        }
        if let found { return found }
        let id = UInt32(truncatingIfNeeded: parents.count)
        slots[slot * 2] = key
        slots[slot * 2 + 1] = UInt64(id)
        let length: Int
        if parent == Self.none {
            length = labelLength
        } else {
            length = lengths[Int(parent)] + 1 + groups.keyLength(Int(label))
        }
        parents.append(parent)
        labels.append(label)
        lengths.append(length)
        counts.append(0)
        ended.append(false)
        if parents.count * 2 > mask + 1 { grow() }
        return id
    }

    private static let empty = UInt64.max

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        let h = key &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h >> 32 ^ h) & mask
    }

    private static func emptySlots(_ size: Int) -> [UInt64] {
        var slots = [UInt64](repeating: 0, count: size * 2)
        for i in stride(from: 0, to: slots.count, by: 2) { slots[i] = empty }
        return slots
    }

    private mutating func grow() {
        let size = (mask + 1) * 2
        var fresh = Self.emptySlots(size)
        let newMask = size - 1
        for node in parents.indices {
            let key = UInt64(parents[node]) << 32 | UInt64(labels[node])
            var slot = Self.slot(key, newMask)
            while fresh[slot * 2] != Self.empty { slot = (slot + 1) & newMask }
            fresh[slot * 2] = key
            fresh[slot * 2 + 1] = UInt64(node)
        }
        slots = fresh
        mask = newMask
    }
}
