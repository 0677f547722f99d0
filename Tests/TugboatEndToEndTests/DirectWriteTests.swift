import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// On plain sockets the proxy writes straight to the socket and hands only what the socket did not
/// take to NIO's channel (`DirectSocketWriter`). These make the sockets fill on both sides, so that
/// hand-over happens again and again, and check that no byte is lost, doubled or reordered.
@Suite("Direct socket writes", .serialized)
struct DirectWriteTests {
    @Test("pipelined responses a slow client cannot take at once reach it whole and in order")
    func slowClient() throws {
        let length = 60 * 1024  // below the splice threshold (64 KiB): written by the proxy, not spliced
        let backend = try PacedBackend(.init(bodyLength: length, piece: length, pause: .zero))
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "threads: 1", health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        guard let fd = connectLoopback(port: tugboat.port, timeout: 5) else { throw TestFailure("cannot connect") }
        defer { close(fd) }
        var small: Int32 = 4 * 1024  // a window far smaller than one response
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let targets = (1...6).map { "/r\($0)" }
        #expect(FrontDoor.sendAll(fd, targets.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()))
        for target in targets {
            let (head, body, _) = SpliceTests.readResponse(fd, length: length, readSize: 2048, readPause: .milliseconds(1))
            #expect(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Length: \(length)"), "\(target): \(head)")
            #expect(body.count == length, "\(target): \(body.count) of \(length) bytes")
            #expect(PacedBackend.isPattern(body[...]), "\(target): the body's bytes changed or moved on the way")
        }
        #expect(backend.requests.filter { $0.target != "/health" }.map(\.target) == targets)
        #expect(try TestHTTPClient.get(port: tugboat.port, "/after").status == 200, "the proxy stopped serving")
    }

    @Test("a request body a slow backend cannot take at once reaches it whole and in order")
    func slowBackend() throws {
        let length = 4 * 1024 * 1024
        let backend = try SlowReadingBackend(readAfter: .milliseconds(300))
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: "threads: 1", health: FrontDoor.tcpCheckOnce)
        try tugboat.waitHealthy([backend.address])
        guard let fd = connectLoopback(port: tugboat.port, timeout: 10) else { throw TestFailure("cannot connect") }
        defer { close(fd) }
        let body = (0..<length).map { SlowReadingBackend.byte(at: $0) }
        #expect(FrontDoor.sendAll(fd, Array("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n".utf8) + body))
        let (head, answer, _) = SpliceTests.readResponse(fd, length: 2)
        #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
        #expect(String(decoding: answer, as: UTF8.self) == "ok", "the backend saw: \(backend.verdicts)")
        #expect(backend.verdicts == ["\(length) bytes in order"])
    }
}

/// A backend whose sockets take nothing for a while after each request head arrives (a small
/// receive buffer, then a pause), so the proxy's writes to it come back short. It checks each
/// request body against ``byte(at:)`` and answers `ok` or `no`.
final class SlowReadingBackend: @unchecked Sendable {
    let port: Int
    var address: String { "127.0.0.1:\(port)" }
    private let listener: Int32
    private let readAfter: Duration
    private let state = Mutex<(verdicts: [String], stopped: Bool)>(([], false))

    static func byte(at position: Int) -> UInt8 { UInt8(truncatingIfNeeded: position % 251) }

    init(readAfter: Duration) throws {
        guard let (fd, port) = listenOnLoopback(backlog: 16) else { throw TestFailure("cannot listen on 127.0.0.1") }
        var small: Int32 = 8 * 1024  // inherited by accepted sockets
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        setReceiveTimeout(fd, 0.05)
        listener = fd
        self.port = port
        self.readAfter = readAfter
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit {
        state.withLock { $0.stopped = true }
    }

    /// One line per request with a body: "N bytes in order", or where it went wrong.
    var verdicts: [String] { state.withLock { $0.verdicts } }

    private func acceptLoop() {
        while !state.withLock({ $0.stopped }) {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            Thread.detachNewThread { [self] in serve(fd) }
        }
        close(listener)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        setReceiveTimeout(fd, 5)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { pending += chunk[0..<n] }
            return n > 0
        }
        while true {
            guard let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) else {
                if fill() { continue } else { return }
            }
            let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self).lowercased()
            pending.removeFirst(end.upperBound)
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            if length > 0 { Thread.sleep(forTimeInterval: Double(readAfter.components.attoseconds) / 1e18) }
            while pending.count < length { guard fill() else { return } }
            if length > 0 {
                let wrong = pending[..<length].indices.first { pending[$0] != Self.byte(at: $0) }
                state.withLock {
                    $0.verdicts.append(wrong.map { "byte \($0) of \(length) wrong" } ?? "\(length) bytes in order")
                }
                let answer = wrong == nil ? "ok" : "no"
                pending.removeFirst(length)
                let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\(answer)".utf8)
                _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            } else {
                let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
                _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }
}
