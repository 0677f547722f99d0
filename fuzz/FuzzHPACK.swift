// libFuzzer entry for Tugboat's HPACK decoder (Sources/TugboatProxy/HTTP2/Wire): compiled by
// fuzz/run.sh with swiftc directly against the decoder's files (they need nothing but the standard
// library), not part of the package.
//
//   swiftc -O -sanitize=fuzzer,address -parse-as-library -package-name tugboat \
//       HPACKHuffman.swift HPACKStaticTable.swift HPACKDynamicTable.swift HPACKInteger.swift \
//       HeaderFieldList.swift HeaderBlockDecoder.swift fuzz/FuzzHPACK.swift -o fuzz-hpack
//
// The input is a connection's worth of header blocks: its first two bytes choose the table size
// (SETTINGS_HEADER_TABLE_SIZE) and the header list limit, the rest is cut into up to four blocks
// at input-derived points. Each block is its own exactly-sized malloc block (a read past it is an
// AddressSanitizer report). Checked after every block: the dynamic table within its maximum, the
// decoded list within the limit plus what one field of the block can add, every field inside the
// list's bytes; and a second decoder fed the same blocks gives the same fields and errors.
#if canImport(Glibc)
import Glibc
#endif

func failHPACK(_ message: String) -> Never {
    fatalError("fuzz-hpack: \(message)")
}

func hashHPACK(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

struct Outcome: Equatable {
    var fields: [[UInt8]]
    var failure: HeaderBlockDecoder.Failure?
}

func decodeAll(_ blocks: [UnsafeRawBufferPointer], tableSize: Int, listLimit: Int) -> [Outcome] {
    var decoder = HeaderBlockDecoder(maxTableSize: tableSize)
    var list = HeaderFieldList()
    var outcomes: [Outcome] = []
    for block in blocks {
        var failure: HeaderBlockDecoder.Failure?
        do {
            try decoder.decode(block, maxListSize: listLimit, into: &list)
        } catch {
            failure = error
        }
        guard decoder.dynamicTableSize <= tableSize else { failHPACK("table size \(decoder.dynamicTableSize) above \(tableSize)") }
        // One field may be appended before the count passes the limit; a Huffman string decodes
        // to at most 8/5 of its bytes, and a field's name and value both come from the block or a
        // table entry (at most tableSize each).
        let bound = listLimit + block.count * 8 / 5 + 2 * tableSize + 64
        guard list.byteCount <= bound else { failHPACK("list of \(list.byteCount) bytes above \(bound)") }
        var fields: [[UInt8]] = []
        for index in 0..<list.count {
            let field = list.fields[index]
            guard field.nameStart <= field.nameEnd, field.nameEnd <= field.valueEnd, Int(field.valueEnd) <= list.byteCount else {
                failHPACK("field \(index) out of the list's bytes")
            }
            fields.append(Array(list.name(index)) + [0x3A] + Array(list.value(index)))
        }
        outcomes.append(Outcome(fields: fields, failure: failure))
        if failure != nil { break }  // a connection error: the connection ends here
    }
    return outcomes
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let tableSize = Int(input[0]) * 32  // 0 … 8160
    let listLimit = 64 + Int(input[1]) * 64  // 64 … 16384
    let rest = UnsafeRawBufferPointer(rebasing: input[2...])
    var cuts = [0]
    let hash = hashHPACK(rest)
    if rest.count > 1 {
        for shift in [0, 20, 40] as [UInt64] { cuts.append(Int((hash >> shift) % UInt64(rest.count))) }
    }
    cuts.append(rest.count)
    cuts.sort()
    var copies: [UnsafeMutableRawBufferPointer] = []
    for index in 0..<(cuts.count - 1) where cuts[index] < cuts[index + 1] || index == 0 {
        let piece = UnsafeRawBufferPointer(rebasing: rest[cuts[index]..<cuts[index + 1]])
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(piece.count, 1), alignment: 1)
        copy.copyMemory(from: piece)
        copies.append(UnsafeMutableRawBufferPointer(rebasing: copy[0..<piece.count]))
    }
    defer { for copy in copies { UnsafeMutableRawBufferPointer(start: copy.baseAddress, count: max(copy.count, 1)).deallocate() } }
    let blocks = copies.map { UnsafeRawBufferPointer($0) }
    let first = decodeAll(blocks, tableSize: tableSize, listLimit: listLimit)
    let second = decodeAll(blocks, tableSize: tableSize, listLimit: listLimit)
    guard first == second else { failHPACK("two decoders disagree on the same blocks") }

    // Huffman alone: never more than 8/5 of the input.
    var output: [UInt8] = []
    _ = try? HPACKHuffman.decode(rest, into: &output)
    guard output.count <= rest.count * 8 / 5 else { failHPACK("Huffman output \(output.count) for \(rest.count) bytes") }
    return 0
}
