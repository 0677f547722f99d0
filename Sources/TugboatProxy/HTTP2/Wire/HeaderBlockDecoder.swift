/// Decodes HPACK header blocks (RFC 7541) into a ``HeaderFieldList``, keeping the connection's
/// dynamic table. One per HTTP/2 connection, fed every complete block in order.
///
/// Bounded: the decoded list is counted while it is decoded (each field's name + value + 32, as
/// SETTINGS_MAX_HEADER_LIST_SIZE counts it) and decoding stops as soon as it passes the limit, so a
/// small block that names a large table entry many times (an HPACK bomb) costs no more than the
/// limit; integers above 2^28 and table size updates above our SETTINGS_HEADER_TABLE_SIZE are
/// refused. Any failure is a connection error (COMPRESSION_ERROR): the table may be out of step.
struct HeaderBlockDecoder {
    enum Failure: Error, Equatable {
        /// The block breaks RFC 7541 (a bad index, a truncated integer or string, a Huffman error,
        /// a table size update too large or after a field).
        case malformed(String)
        /// The decoded list is larger than the limit.
        case listTooLarge
    }

    private var table: HPACKDynamicTable
    /// SETTINGS_HEADER_TABLE_SIZE as we advertise it: the most a size update may ask for.
    let maxTableSize: Int

    init(maxTableSize: Int = 4096) {
        self.maxTableSize = maxTableSize
        self.table = HPACKDynamicTable(maximumSize: maxTableSize)
    }

    var dynamicTableSize: Int { table.size }
    var dynamicTableCount: Int { table.count }

    /// Decodes one complete block into `list` (emptied first).
    mutating func decode(_ bytes: UnsafeRawBufferPointer, maxListSize: Int, into list: inout HeaderFieldList) throws(Failure) {
        list.removeAll()
        var position = 0
        var listSize = 0
        var fieldSeen = false
        while position < bytes.count {
            let first = bytes[position]
            if first & 0x80 != 0 {
                // Indexed field (§6.1).
                guard let index = HPACKInteger.decode(bytes, at: &position, prefixBits: 7) else { throw .malformed("truncated index") }
                let fits = try withEntryBytes(index) { field, nameLength in
                    // Counted before it is copied: a bomb stops at the limit, not past it.
                    listSize += field.count + HPACKDynamicTable.entryOverhead
                    guard listSize <= maxListSize else { return false }
                    list.append(field: field, nameLength: nameLength)
                    return true
                }
                guard fits else { throw .listTooLarge }
            } else if first & 0xE0 == 0x20 {
                // Dynamic table size update (§6.3): only before the block's first field.
                guard !fieldSeen else { throw .malformed("table size update after a field") }
                guard let size = HPACKInteger.decode(bytes, at: &position, prefixBits: 5), size <= maxTableSize else {
                    throw .malformed("table size update above SETTINGS_HEADER_TABLE_SIZE")
                }
                table.setMaximumSize(size)
                continue
            } else {
                // Literal field (§6.2): with incremental indexing (01), without (0000), never indexed (0001).
                let indexing = first & 0xC0 == 0x40
                guard let nameIndex = HPACKInteger.decode(bytes, at: &position, prefixBits: indexing ? 6 : 4) else {
                    throw .malformed("truncated name index")
                }
                let nameStart = list.byteCount
                if nameIndex == 0 {
                    try readString(bytes, at: &position, into: &list)
                } else {
                    try withEntryBytes(nameIndex) { entry, nameLength in list.appendBytes(UnsafeRawBufferPointer(rebasing: entry[..<nameLength])) }
                }
                let nameEnd = list.byteCount
                try readString(bytes, at: &position, into: &list)
                listSize += list.byteCount - nameStart + HPACKDynamicTable.entryOverhead
                guard listSize <= maxListSize else { throw .listTooLarge }
                list.appendField(nameStart: nameStart, nameEnd: nameEnd)
                if indexing {
                    let field = list.count - 1
                    table.add(name: list.name(field), value: list.value(field))
                }
            }
            fieldSeen = true
        }
    }

    /// Entry `index` of the static table (1…61) or the dynamic one (62…) as one run of bytes (the
    /// name, then the value) lent to `body` in place with the name's length: nothing copied or
    /// retained on the way.
    @inline(__always)
    private func withEntryBytes<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer, Int) -> Result) throws(Failure) -> Result {
        if index >= 1 && index <= HPACKStaticTable.count {
            return HPACKStaticTable.withEntryBytes(index, body)
        }
        guard let result = table.withEntryBytes(index - HPACKStaticTable.count, body) else { throw .malformed("index \(index) out of range") }
        return result
    }

    /// A string literal (§5.2), raw or Huffman-coded, appended to the list's bytes.
    private func readString(_ bytes: UnsafeRawBufferPointer, at position: inout Int, into list: inout HeaderFieldList) throws(Failure) {
        guard position < bytes.count else { throw .malformed("truncated string") }
        let huffman = bytes[position] & 0x80 != 0
        guard let length = HPACKInteger.decode(bytes, at: &position, prefixBits: 7), length <= bytes.count - position else {
            throw .malformed("truncated string")
        }
        let string = UnsafeRawBufferPointer(rebasing: bytes[position..<position + length])
        position += length
        if huffman {
            do {
                try list.withBytes { (output: inout [UInt8]) throws(HPACKHuffman.Failure) in try HPACKHuffman.decode(string, into: &output) }
            } catch {
                throw .malformed("invalid Huffman code")
            }
        } else {
            list.appendBytes(string)
        }
    }
}
