/// The fields of one decoded header block: their bytes in one array, each field a pair of ranges
/// into it. Reused from block to block (no allocation once it has grown).
struct HeaderFieldList {
    struct Field {
        var nameStart: Int32
        var nameEnd: Int32
        var valueEnd: Int32  // the value starts at nameEnd
    }

    private(set) var bytes: [UInt8] = []
    private(set) var fields: [Field] = []

    var count: Int { fields.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
    }

    mutating func append(name: some Collection<UInt8>, value: some Collection<UInt8>) {
        let start = Int32(bytes.count)
        bytes.append(contentsOf: name)
        let nameEnd = Int32(bytes.count)
        bytes.append(contentsOf: value)
        fields.append(Field(nameStart: start, nameEnd: nameEnd, valueEnd: Int32(bytes.count)))
    }

    /// Appends a field given as one run of bytes: its name (the first `nameLength`), then its value.
    mutating func append(field: UnsafeRawBufferPointer, nameLength: Int) {
        let start = Int32(bytes.count)
        bytes.append(contentsOf: field)
        fields.append(Field(nameStart: start, nameEnd: start + Int32(nameLength), valueEnd: Int32(bytes.count)))
    }

    /// Appends a field whose bytes the caller has already put at the end of ``bytes`` (through
    /// ``appendBytes(_:)``): the name from `nameStart`, the value from `nameEnd`.
    mutating func appendField(nameStart: Int, nameEnd: Int) {
        fields.append(Field(nameStart: Int32(nameStart), nameEnd: Int32(nameEnd), valueEnd: Int32(bytes.count)))
    }

    mutating func withBytes<T>(_ body: (inout [UInt8]) throws(HPACKHuffman.Failure) -> T) throws(HPACKHuffman.Failure) -> T {
        try body(&bytes)
    }

    mutating func appendBytes(_ more: some Collection<UInt8>) { bytes.append(contentsOf: more) }

    var byteCount: Int { bytes.count }

    func name(_ index: Int) -> ArraySlice<UInt8> {
        let field = fields[index]
        return bytes[Int(field.nameStart)..<Int(field.nameEnd)]
    }

    func value(_ index: Int) -> ArraySlice<UInt8> {
        let field = fields[index]
        return bytes[Int(field.nameEnd)..<Int(field.valueEnd)]
    }
}

extension UnsafeRawBufferPointer {
    /// Byte-for-byte equality with a literal (HTTP/2 names are compared exactly: lower-case).
    @inline(__always)
    func equals(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let other = literal.utf8Start
        for index in 0..<count where self[index] != other[index] { return false }
        return true
    }
}
