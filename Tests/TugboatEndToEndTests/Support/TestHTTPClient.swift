import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately plain blocking HTTP/1.1 client on a POSIX socket, so tests control every byte
/// (malformed requests, trickled heads, pipelining) and see exactly what the proxy sends back.
final class TestHTTPClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        var bodyText: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    enum ClientError: Error { case connect(Int32), closed, timeout, malformed(String) }

    let fd: Int32
    private var buffer: [UInt8] = []
    /// The `Host` sent unless a request names its own: the address connected to (the admin
    /// listener answers no other name).
    let hostHeader: String

    init(port: Int, host: String = "127.0.0.1", timeout: Double = 10) throws {
        hostHeader = "\(host):\(port)"
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let err = errno
            close(socketFD)
            // Thrown before `fd` is set, so deinit does not run: it would close the number a
            // second time, by then perhaps another thread's pipe or socket (seen as a read of a
            // pipe failing with ENOTCONN in an unrelated test).
            throw ClientError.connect(err)
        }
        fd = socketFD
        setTimeout(timeout)
    }

    deinit { close(fd) }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw ClientError.closed }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; false on EOF.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return false }
        if n < 0 { throw errno == EAGAIN || errno == EWOULDBLOCK ? ClientError.timeout : ClientError.closed }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// True when the server closed the connection (EOF) with nothing more to read.
    func isClosedByPeer() -> Bool {
        if !buffer.isEmpty { return false }
        return (try? fill()) == false
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[..<index]
                buffer.removeFirst(index + 1)
                return String(decoding: line, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            }
            guard try fill() else { throw ClientError.closed }
        }
    }

    private func readExactly(_ count: Int, discard: Bool = false) throws -> [UInt8] {
        var result: [UInt8] = []
        var remaining = count
        while remaining > 0 {
            if buffer.isEmpty { guard try fill() else { throw ClientError.closed } }
            let take = min(remaining, buffer.count)
            if !discard { result.append(contentsOf: buffer[..<take]) }
            buffer.removeFirst(take)
            remaining -= take
        }
        return result
    }

    /// Reads one response. `discardBody` counts the body without keeping it (for huge downloads).
    func readResponse(discardBody: Bool = false, headRequest: Bool = false) throws -> (Response, bodyLength: Int) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw ClientError.malformed(statusLine) }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError.malformed(line) }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = Response(status: status, headers: headers, body: [])
        if headRequest || status == 204 || status == 304 || (100..<200).contains(status) { return (response, 0) }
        if let length = response.header("content-length").flatMap(Int.init) {
            response.body = try readExactly(length, discard: discardBody)
            return (response, length)
        }
        if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            var total = 0
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw ClientError.malformed(sizeLine) }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                response.body += try readExactly(size, discard: discardBody)
                _ = try readExactly(2)
                total += size
            }
            return (response, total)
        }
        // Delimited by close.
        while try fill() {}
        response.body = buffer
        buffer.removeAll()
        return (response, response.body.count)
    }

    /// Sends a simple request and reads its response.
    func request(_ method: String = "GET", _ path: String, headers: [String: String] = [:], body: String? = nil) throws -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\n"
        if !headers.keys.contains(where: { $0.lowercased() == "host" }) { text += "Host: \(hostHeader)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        try send(text)
        return try readResponse(headRequest: method == "HEAD").0
    }

    static func get(port: Int, _ path: String, headers: [String: String] = [:]) throws -> Response {
        try TestHTTPClient(port: port).request("GET", path, headers: headers.merging(["Connection": "close"]) { a, _ in a })
    }
}
