import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Helpers for FrontDoorTests: raw socket reads with deadlines, a bulk writer, /metrics and /proc
// readers.

extension TugboatUnderTest {
    /// Soft and hard "Max open files" of the running proxy, from /proc.
    var openFileLimits: (soft: Int, hard: Int)? { FrontDoor.openFileLimits(pid: child.pid) }
}

enum FrontDoor {
    /// TCP health checks, one at start (rise 1) and then none for a minute: a raw backend sees one
    /// empty connection and nothing else from the checker.
    static let tcpCheckOnce = "{ path: \"\", interval: 60s, timeout: 500ms, rise: 1, fall: 2 }"

    /// Soft and hard "Max open files" of a process, from /proc/<pid>/limits.
    static func openFileLimits(pid: Int32) -> (soft: Int, hard: Int)? {
        guard let limits = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
              let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let fields = line.dropFirst("Max open files".count).split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let soft = Int(fields[0]), let hard = Int(fields[1]) else { return nil }
        return (soft, hard)
    }

    /// The sum of every sample of a metric (`name value` or `name{labels} value`) in a Prometheus
    /// text page, or nil when there is none.
    static func metric(_ name: String, in page: String) -> Double? {
        var sum: Double?
        for line in page.split(separator: "\n") where !line.hasPrefix("#") && line.hasPrefix(name) {
            let rest = line.dropFirst(name.count)
            guard rest.first == " " || rest.first == "{", let value = line.split(separator: " ").last.flatMap({ Double($0) })
            else { continue }
            sum = (sum ?? 0) + value
        }
        return sum
    }

    /// Checks `condition` every 100 ms for `seconds`: true when it held every time. A bounded wait
    /// used only to show that something does NOT happen within that time.
    static func holds(for seconds: Double, _ condition: () throws -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        repeat {
            guard (try? condition()) == true else { return false }
            usleep(100_000)
        } while Date() < end
        return (try? condition()) == true
    }

    static func sendAll(_ fd: Int32, _ text: String) -> Bool {
        sendAll(fd, Array(text.utf8))
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads until the peer closes (EOF or reset) or `seconds` pass: the bytes, and whether it closed.
    static func readUntilClose(_ fd: Int32, within seconds: Double) -> (bytes: [UInt8], closed: Bool) {
        let end = Date().addingTimeInterval(seconds)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while Date() < end {
            setReceiveTimeout(fd, max(0.01, min(0.2, end.timeIntervalSinceNow)))
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                bytes += chunk[0..<n]
            } else if n == 0 {
                return (bytes, true)
            } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                return (bytes, true)
            }
        }
        return (bytes, false)
    }

    /// True when the peer closes (EOF or reset) within `seconds`; bytes arriving meanwhile are dropped.
    static func peerCloses(_ fd: Int32, within seconds: Double) -> Bool {
        readUntilClose(fd, within: seconds).closed
    }

    /// A response read raw: its status line, headers, and the bytes after the head.
    struct RawResponse {
        var statusLine: String
        var headers: [(String, String)]
        var body: [UInt8]
        var bodyText: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

        init?(_ bytes: [UInt8]) {
            guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: Array("\r\n\r\n".utf8)) }) else { return nil }
            let lines = String(decoding: bytes[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
            statusLine = lines[0]
            headers = lines.dropFirst().compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            body = Array(bytes[(end + 4)...])
        }
    }

    /// What became of one connection given a request.
    enum Outcome: Equatable, CustomStringConvertible {
        case status(Int)
        case closed  // EOF or reset without a status line
        case connectFailed
        case pending  // nothing by the deadline
        var description: String {
            switch self {
            case .status(let code): "\(code)"
            case .closed: "closed"
            case .connectFailed: "connect failed"
            case .pending: "pending"
            }
        }
    }

    /// Waits, on all sockets at once, for each one's status line or close, until `deadline`.
    /// A socket of -1 stands for a failed connect. The sockets stay open.
    static func outcomes(of fds: [Int32], until deadline: Date) -> [Outcome] {
        var result = fds.map { $0 < 0 ? Outcome.connectFailed : .pending }
        var buffers = [[UInt8]](repeating: [], count: fds.count)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let waiting = fds.indices.filter { result[$0] == .pending }
            if waiting.isEmpty { break }
            var polls = waiting.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polls, nfds_t(polls.count), Int32(max(1, min(200, deadline.timeIntervalSinceNow * 1000))))
            if ready <= 0 { continue }
            for (slot, index) in waiting.enumerated() where polls[slot].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { recv(fds[index], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n > 0 {
                    buffers[index] += chunk[0..<n]
                    if let newline = buffers[index].firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: buffers[index][0..<newline], as: UTF8.self)
                        let parts = line.split(separator: " ")
                        result[index] = parts.count >= 2 ? Int(parts[1]).map(Outcome.status) ?? .closed : .closed
                    }
                } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                    result[index] = .closed
                }
            }
        }
        return result
    }
}

/// Writes a repeating pattern to a socket from a background thread, as fast as the socket takes it,
/// until `total` bytes are written, the socket fails, or one send blocks for longer than
/// `blockedLimit` seconds (SO_SNDTIMEO on the socket: the proxy has stopped reading).
final class BulkWriter: Sendable {
    /// 64 printable bytes; the stream is this, repeated from its start.
    static let pattern = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_".utf8)

    private let written = Atomic<Int>(0)
    private let finished = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// The first `count` bytes of the stream.
    static func prefix(_ count: Int) -> [UInt8] {
        (0..<count).map { pattern[$0 % pattern.count] }
    }

    init(fd: Int32, total: Int, blockedLimit: Double = 2) {
        var limit = timeval(tv_sec: Int(blockedLimit), tv_usec: Int((blockedLimit - Double(Int(blockedLimit))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            let chunk = Self.prefix(256 * 1024)  // a multiple of the pattern, so chunks join seamlessly
            var sent = 0
            while sent < total {
                let want = min(chunk.count, total - sent)
                // Whole chunks only, so the stream stays the pattern: a partial send resumes mid-chunk.
                var offset = 0
                while offset < want {
                    let n = chunk[offset..<want].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    offset += n
                    written.add(n, ordering: .relaxed)
                }
                if offset < want { break }
                sent += want
            }
            finished.store(true, ordering: .sequentiallyConsistent)
            done.signal()
        }
    }

    var bytesWritten: Int { written.load(ordering: .relaxed) }
    var isFinished: Bool { finished.load(ordering: .sequentiallyConsistent) }

    /// Waits for the writer to stop; false if it is still writing after `seconds`.
    func wait(seconds: Double) -> Bool {
        done.wait(timeout: .now() + seconds) == .success
    }
}
