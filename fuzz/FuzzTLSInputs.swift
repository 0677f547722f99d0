// libFuzzer entry for the bytes Tugboat reads around a TLS handshake without BoringSSL's help:
// `ClientHelloPeek` (a connection's first record, read before the TLS context is chosen with
// `tls.acme.challenge: tls-alpn-01`) and `DERReader` (OCSP responses from a responder). Compiled
// by fuzz/run.sh with swiftc directly against those two files, not part of the package.
//
//   swiftc -O -sanitize=fuzzer,address -parse-as-library -package-name tugboat \
//       Sources/TugboatProxy/TLS/ClientHelloPeek.swift Sources/TugboatACME/OCSP/DERReader.swift \
//       fuzz/FuzzTLSInputs.swift -o fuzz-tls
//
// The input is one exactly-sized malloc block (a read past it is an AddressSanitizer report).
// Checked: what the peek returns is made of the input's bytes (names no longer than the input),
// a prefix of an input the peek accepted never yields a different ClientHello, and every DER
// element the reader returns lies inside its container (walked recursively, 32 levels deep).

func failTLS(_ message: String) -> Never {
    fatalError("fuzz-tls: \(message)")
}

func walk(_ reader: DERReader, depth: Int, budget: inout Int) {
    var reader = reader
    while !reader.isAtEnd && budget > 0 {
        budget -= 1
        guard let element = try? reader.next() else { return }
        guard element.content.count <= element.encoded.count,
              element.encoded.startIndex <= element.content.startIndex, element.content.endIndex == element.encoded.endIndex else {
            failTLS("an element's content lies outside its encoding")
        }
        if element.tag == DERReader.generalizedTime { _ = try? DERReader.generalizedTime(element.content) }
        if element.tag & 0x20 != 0 && depth < 32 { walk(element.children, depth: depth + 1, budget: &budget) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let outcome = ClientHelloPeek.peek(input)
    if case .hello(let serverName, let protocols) = outcome {
        let named = (serverName?.utf8.count ?? 0) + protocols.reduce(0) { $0 + $1.utf8.count }
        if named > size { failTLS("the peek named more bytes than it was given") }
        // A shorter input is either not yet complete or the same answer: never another hello.
        if case .hello(let otherName, let otherProtocols) = ClientHelloPeek.peek(input.prefix(size - 1)),
           otherName != serverName || otherProtocols != protocols {
            failTLS("a prefix gave another ClientHello")
        }
    }
    var budget = 10_000
    walk(DERReader(ArraySlice(input)), depth: 0, budget: &budget)
    return 0
}
