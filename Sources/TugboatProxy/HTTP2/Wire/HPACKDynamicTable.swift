/// HPACK's dynamic table (RFC 7541 §2.3.2, §4): newest entry first, evicted oldest first when
/// the entries' size (name + value + 32 each) would exceed the table's current maximum.
struct HPACKDynamicTable {
    static let entryOverhead = 32

    private struct Entry {
        var bytes: [UInt8]
        var nameLength: Int
        var size: Int { bytes.count + HPACKDynamicTable.entryOverhead }
    }

    /// Oldest first; `first` entries at the front are evicted and not yet compacted away.
    private var entries: [Entry] = []
    private var first = 0
    private(set) var size = 0
    private(set) var maximumSize: Int

    init(maximumSize: Int) {
        self.maximumSize = maximumSize
    }

    var count: Int { entries.count - first }

    /// Entry `index` (1 = newest) as one run of bytes, its name then its value, and the name's
    /// length; nil if there is none.
    @inline(__always)
    func withEntryBytes<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer, Int) -> Result) -> Result? {
        guard index >= 1, index <= count else { return nil }
        let nameLength = entries[entries.count - index].nameLength
        return entries[entries.count - index].bytes.withUnsafeBytes { body($0, nameLength) }
    }

    mutating func setMaximumSize(_ newMaximum: Int) {
        maximumSize = newMaximum
        evict(toFit: 0)
    }

    /// Adds an entry (RFC 7541 §4.4: one larger than the whole table empties it and is not added).
    mutating func add(name: some Collection<UInt8>, value: some Collection<UInt8>) {
        let entrySize = name.count + value.count + Self.entryOverhead
        guard entrySize <= maximumSize else {
            entries.removeAll(keepingCapacity: true)
            first = 0
            size = 0
            return
        }
        evict(toFit: entrySize)
        var bytes = [UInt8]()
        bytes.reserveCapacity(name.count + value.count)
        bytes.append(contentsOf: name)
        bytes.append(contentsOf: value)
        entries.append(Entry(bytes: bytes, nameLength: name.count))
        size += entrySize
    }

    private mutating func evict(toFit entrySize: Int) {
        while size + entrySize > maximumSize, first < entries.count {
            size -= entries[first].size
            first += 1
        }
        if first > 32 && first * 2 > entries.count {
            entries.removeFirst(first)
            first = 0
        }
    }
}
