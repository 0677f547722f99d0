import Foundation
import Logging
import NIOCore
import TestSupport
import NIOEmbedded
import Testing
import TugboatCore
@testable import TugboatProxy

/// Builds a record and its arena the way a loop does.
private func makeBatch(_ fields: [String: [UInt8]], configure: (inout AccessLogRecord) -> Void = { _ in }) -> AccessLogBatch {
    var batch = AccessLogBatch()
    var record = AccessLogRecord()
    func store(_ key: String) -> ArenaSpan {
        guard let bytes = fields[key] else { return ArenaSpan() }
        return bytes.withUnsafeBytes { batch.store($0) }
    }
    record.client = store("client")
    record.method = store("method")
    record.target = store("target")
    record.requestID = store("request_id")
    record.referer = store("referer")
    record.userAgent = store("user_agent")
    configure(&record)
    batch.records.append(record)
    return batch
}

private func lines(_ batch: AccessLogBatch, _ format: AccessLogFormat) -> String {
    var formatter = AccessLogFormatter(format: format)
    var out: [UInt8] = []
    batch.arena.withUnsafeReadableBytes { arena in
        for record in batch.records { formatter.append(record, arena: arena, to: &out) }
    }
    return String(decoding: out, as: UTF8.self)
}

private func jsonObject(_ line: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

/// 2026-12-04T22:53:44.123456789Z
private let sampleNanos: Int64 = 1_796_424_824 * 1_000_000_000 + 123_456_789

@Suite("Access log: formatting, escaping, the bounded queue")
struct AccessLogFormatTests {
    private func sample(_ record: inout AccessLogRecord) {
        record.startNanos = sampleNanos
        record.status = 200
        record.bytesIn = 16
        record.bytesOut = 1234
        record.upstream = HostPort(host: "127.0.0.1", port: 9001)
        record.upstreamNanos = 812_345
        record.totalNanos = 1_204_999
        record.retries = 1
        record.protocolVersion = .http11
    }

    private let fields: [String: [UInt8]] = [
        "client": Array("10.0.0.7".utf8), "method": Array("GET".utf8), "target": Array("/path?q=1".utf8),
        "request_id": Array("5f1c-2a".utf8), "referer": Array("https://ref/".utf8), "user_agent": Array("curl/8.5".utf8),
    ]

    @Test("combined: the standard fields, then Tugboat's as key=value")
    func combinedLine() {
        let text = lines(makeBatch(fields, configure: sample), .combined)
        #expect(text == "10.0.0.7 - - [04/Dec/2026:22:53:44 +0000] \"GET /path?q=1 HTTP/1.1\" 200 1234 \"https://ref/\" \"curl/8.5\" "
            + "request_id=5f1c-2a upstream=127.0.0.1:9001 upstream_ms=0.812 total_ms=1.204 retries=1 bytes_in=16\n")
    }

    @Test("combined: absent fields are -, a refused request line is \"-\"")
    func combinedAbsent() {
        var only = fields
        only["method"] = nil
        only["referer"] = nil
        only["user_agent"] = nil
        only["request_id"] = nil
        let text = lines(makeBatch(only) { record in
            record.startNanos = 0
            record.status = 400
            record.totalNanos = 0
        }, .combined)
        #expect(text == "10.0.0.7 - - [01/Jan/1970:00:00:00 +0000] \"-\" 400 0 \"-\" \"-\" request_id=- upstream=- upstream_ms=- total_ms=0.000 retries=0 bytes_in=0\n")
    }

    @Test("json: one object per line, snake_case keys, numbers as numbers, null for what is absent")
    func jsonLine() throws {
        let text = lines(makeBatch(fields, configure: sample), .json)
        #expect(text.hasSuffix("}\n"))
        #expect(text.hasPrefix("{\"time\":\"2026-12-04T22:53:44.123Z\",\"client\":\"10.0.0.7\",\"method\":\"GET\",\"target\":\"/path?q=1\",\"protocol\":\"HTTP/1.1\",\"status\":200,"))
        let object = try jsonObject(text)
        #expect(object["status"] as? Int == 200)
        #expect(object["bytes_in"] as? Int == 16)
        #expect(object["bytes_out"] as? Int == 1234)
        #expect(object["upstream"] as? String == "127.0.0.1:9001")
        #expect(object["upstream_ms"] as? Double == 0.812)
        #expect(object["total_ms"] as? Double == 1.204)
        #expect(object["request_id"] as? String == "5f1c-2a")
        #expect(object["retries"] as? Int == 1)
        #expect(object["referer"] == nil && object["user_agent"] == nil)
        let local = try jsonObject(lines(makeBatch(["client": Array("::1".utf8)]) { $0.status = 503 }, .json))
        #expect(local["upstream"] is NSNull)
        #expect(local["upstream_ms"] is NSNull)
        #expect(local["method"] is NSNull)
        #expect(local["protocol"] is NSNull)
    }

    @Test("a hostile target never breaks a line: JSON escapes and U+FFFD, Combined \\xHH")
    func hostileTarget() throws {
        var target = Array("/a\"b\\c\nd\re\tf".utf8) + [0x00, 0x1B, 0x7F] + Array("é".utf8)
        target += [0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xF0, 0x9F, 0x98]  // invalid: lone, bad continuation, surrogate, truncated
        target += Array("😀".utf8) + Array("\u{2028}end".utf8)
        var hostile = fields
        hostile["target"] = target
        hostile["user_agent"] = Array("evil\n10.0.0.1 - - [x] \"GET / HTTP/1.1\" 200".utf8)
        let json = lines(makeBatch(hostile, configure: sample), .json)
        #expect(json.filter { $0 == "\n" }.count == 1 && json.hasSuffix("\n"))
        let object = try jsonObject(json)
        // FF, then C3 before an ASCII "(", then each byte of ED A0 80 (a surrogate) and of F0 9F 98 (cut short).
        let expected = "/a\"b\\c\nd\re\tf\u{0}\u{1B}\u{7F}é\u{FFFD}\u{FFFD}(" + String(repeating: "\u{FFFD}", count: 6) + "😀\u{2028}end"
        #expect(object["target"] as? String == expected)
        #expect(json.contains("\\u0000\\u001b\\u007f"))

        let combined = lines(makeBatch(hostile, configure: sample), .combined)
        #expect(combined.filter { $0 == "\n" }.count == 1 && combined.hasSuffix("\n"))
        #expect(combined.contains("\"GET /a\\x22b\\x5cc\\x0ad\\x0de\\x09f\\x00\\x1b\\x7f\\xc3\\xa9\\xff"))
        #expect(combined.contains("\"evil\\x0a10.0.0.1 - - [x] \\x22GET / HTTP/1.1\\x22 200\""))
    }

    @Test("dates: CLF and ISO 8601 in UTC, leap days, before 1970")
    func dates() {
        func clf(_ second: Int64) -> String {
            var out: [UInt8] = []
            AccessLogFormatter.appendCLFDate(second: second, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        func iso(_ nanos: Int64) -> String {
            var out: [UInt8] = []
            AccessLogFormatter.appendISODate(nanos: nanos, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(clf(1_796_424_824) == "04/Dec/2026:22:53:44 +0000")
        #expect(clf(1_709_164_800) == "29/Feb/2024:00:00:00 +0000")
        #expect(clf(951_868_799) == "29/Feb/2000:23:59:59 +0000")
        #expect(clf(-1) == "31/Dec/1969:23:59:59 +0000")
        #expect(iso(sampleNanos) == "2026-12-04T22:53:44.123Z")
        #expect(iso(1_709_251_199_999_000_000) == "2024-02-29T23:59:59.999Z")
        // Every day of 1999-2031 agrees with Foundation's calendar.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for day in stride(from: Int64(10_592), to: 22_645, by: 1) {
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(day * 86_400)))
            let civil = AccessLogFormatter.civilDate(days: day)
            if civil.year != parts.year || civil.month != parts.month || civil.day != parts.day {
                Issue.record("day \(day): \(civil) vs \(parts)")
                break
            }
        }
    }

    @Test("milliseconds and integers")
    func numbers() {
        func ms(_ nanos: Int64) -> String {
            var out: [UInt8] = []
            AccessLogFormatter.appendMilliseconds(nanos, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(ms(0) == "0.000")
        #expect(ms(999) == "0.000")
        #expect(ms(1_000) == "0.001")
        #expect(ms(61_234_567_000) == "61234.567")
        var out: [UInt8] = []
        AccessLogFormatter.appendInteger(9_223_372_036_854_775_807, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "9223372036854775807")
    }

    @Test("a refused request line is split as well as it goes, capped")
    func requestLineGuess() {
        func guess(_ text: String) -> (String, String, AccessLogProtocol) {
            Array(text.utf8).withUnsafeBytes { bytes in
                let line = RequestLineGuess(bytes)
                return (String(decoding: line.method, as: UTF8.self), String(decoding: line.target, as: UTF8.self), line.protocolVersion)
            }
        }
        #expect(guess("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n") == ("GET", "/a b", .http11))
        #expect(guess("GET /x HTTP/2.0\r\n") == ("GET", "/x HTTP/2.0", .unknown))
        #expect(guess("\r\nPOST /y HTTP/1.0\n") == ("POST", "/y", .http10))
        #expect(guess("garbage") == ("garbage", "", .unknown))
        #expect(guess("") == ("", "", .unknown))
        let long = guess("GET /" + String(repeating: "a", count: 10_000) + " HTTP/1.1\r\n")
        #expect(long.1.utf8.count == RequestLineGuess.maxTarget)
    }

    @Test("the queue is bounded: a batch that does not fit is dropped and counted, never blocks")
    func boundedQueue() {
        let queue = AccessLogQueue(limits: .init(maxRecords: 10, maxBytes: 1 << 20))
        func batch(_ count: Int) -> AccessLogBatch {
            var batch = AccessLogBatch()
            for _ in 0..<count { batch.records.append(AccessLogRecord()) }
            return batch
        }
        #expect(queue.offer(batch(6)))
        #expect(queue.offer(batch(4)))
        #expect(!queue.offer(batch(1)))
        #expect(!queue.offer(batch(7)))
        #expect(queue.dropped == 8)
        let work = queue.take()
        #expect(work.batches.map(\.records.count) == [6, 4])
        #expect(queue.offer(batch(10)))  // room again once the writer took them
        let bytes = AccessLogQueue(limits: .init(maxRecords: 100, maxBytes: 64))
        var big = batch(1)
        big.arena.writeBytes([UInt8](repeating: 0x61, count: 65))
        #expect(!bytes.offer(big))
        #expect(bytes.dropped == 1)
        queue.close()
        #expect(!queue.offer(batch(1)))
        let last = queue.take()
        #expect(last.closing && last.batches.map(\.records.count) == [10])
    }

    @Test("the writer writes every handed-over line, reopens a renamed file, and creates it 0640")
    func writerReopens() async throws {
        let directory = NSTemporaryDirectory() + "tugboat-accesslog-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/access.log"
        let log = try AccessLog(settings: AccessLogSettings(path: path, format: .json), logger: Logger(label: "test"))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let permissions = try #require(attributes[.posixPermissions] as? Int)
        #expect(permissions & 0o600 == 0o600 && permissions & 0o137 == 0, "0640 less the umask, got \(String(permissions, radix: 8))")
        var fields = fields
        fields["target"] = Array("/first".utf8)
        log.queue.offer(makeBatch(fields, configure: sample))
        try await waitUntil("the first line") { (try? String(contentsOfFile: path, encoding: .utf8))?.contains("/first") == true }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        log.reopen()
        try await waitUntil("the reopened file") { FileManager.default.fileExists(atPath: path) }
        fields["target"] = Array("/second".utf8)
        log.queue.offer(makeBatch(fields, configure: sample))
        await log.finish()
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("/second"))
        #expect(try !String(contentsOfFile: path + ".1", encoding: .utf8).contains("/second"))
        #expect(log.written == 2 && log.dropped == 0)
    }

    @Test("an access log that cannot be opened names its path and the key")
    func openError() {
        do {
            _ = try AccessLog(settings: AccessLogSettings(path: "/nonexistent-\(UUID().uuidString)/access.log"), logger: Logger(label: "test"))
            Issue.record("opened")
        } catch {
            #expect("\(error)".contains("('access-log.path'): No such file or directory"), "\(error)")
        }
    }
}

/// The handler's side: one record per request outcome, read from the loop's batch.
@Suite("Access log: one record per request outcome (ProxyHandler on EmbeddedChannels)")
struct AccessLogHandlerTests {
    /// A rig whose loop logs (to a file nobody reads: the records are taken from the batch).
    private func rig(backends: Int = 1, format: AccessLogFormat = .json) throws -> (ProxyRig, AccessLog) {
        let path = NSTemporaryDirectory() + "tugboat-accesslog-\(UUID().uuidString).log"
        let log = try AccessLog(settings: AccessLogSettings(path: path, format: format), logger: Logger(label: "test"))
        try? FileManager.default.removeItem(atPath: path)
        return (try ProxyRig(backendCount: backends, accessLog: log), log)
    }

    private func records(_ rig: ProxyRig) throws -> [[String: Any]] {
        let text = lines(rig.context.accessLog!.batch, .json)
        return try text.split(separator: "\n").map { try jsonObject(String($0)) }
    }

    @Test("a proxied GET and a pipelined POST: method, target, status, bytes both ways, upstream, request id, client")
    func proxied() async throws {
        let (rig, log) = try rig()
        try rig.send("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine\r\n\r\nPOST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        try rig.respond(0, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nno!\r\n0\r\n\r\n")
        let lines = try records(rig)
        try #require(lines.count == 2)
        #expect(lines[0]["method"] as? String == "GET" && lines[0]["target"] as? String == "/a?b=c")
        #expect(lines[0]["status"] as? Int == 200 && lines[0]["bytes_out"] as? Int == 5 && lines[0]["bytes_in"] as? Int == 0)
        #expect(lines[0]["upstream"] as? String == "127.0.0.1:9100" && lines[0]["upstream_ms"] is Double)
        #expect(lines[0]["request_id"] as? String == "mine" && lines[0]["client"] as? String == "10.9.8.7")
        #expect(lines[0]["protocol"] as? String == "HTTP/1.1" && lines[0]["retries"] as? Int == 0)
        #expect(lines[1]["method"] as? String == "POST" && lines[1]["status"] as? Int == 404)
        #expect(lines[1]["bytes_in"] as? Int == 3 && lines[1]["bytes_out"] as? Int == 13)  // chunked framing as relayed
        #expect((lines[1]["request_id"] as? String)?.contains("-") == true)
        await log.finish()
    }

    @Test("a malformed request line: 400 with what could be read of it, no request id")
    func refused() async throws {
        let (rig, log) = try rig()
        try rig.send("GET /\u{1}x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try rig.received().hasPrefix("HTTP/1.1 400 "))
        let lines = try records(rig)
        try #require(lines.count == 1, "\(lines)")
        #expect(lines[0]["status"] as? Int == 400 && lines[0]["method"] as? String == "GET")
        #expect(lines[0]["target"] as? String == "/\u{1}x" && lines[0]["protocol"] as? String == "HTTP/1.1")
        #expect(lines[0]["request_id"] is NSNull && lines[0]["upstream"] is NSNull)
        #expect((lines[0]["bytes_out"] as? Int ?? 0) > 0)
        await log.finish()
    }

    @Test("a connect failure retried on the other backend: retries 1; no backend left: 503 with upstream null")
    func retried() async throws {
        let (rig, log) = try rig(backends: 2)
        rig.upstreams.failures = [ChannelError.connectTimeout(.seconds(1))]
        try rig.send("GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        rig.context.install(BackendSet(all: rig.backends, eligible: [], slotCount: 2))
        try rig.send("GET /none HTTP/1.1\r\nHost: x\r\n\r\n")
        let lines = try records(rig)
        try #require(lines.count == 2)
        #expect(lines[0]["status"] as? Int == 200 && lines[0]["retries"] as? Int == 1)
        #expect(lines[1]["status"] as? Int == 503 && lines[1]["upstream"] is NSNull && lines[1]["upstream_ms"] is NSNull)
        await log.finish()
    }

    @Test("the client leaves before the response: 499, once; a 101 is logged as the tunnel starts")
    func clientGoneAndUpgrade() async throws {
        let (rig, log) = try rig()
        try rig.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        try await rig.client.close().get()
        let (upgrade, upgradeLog) = try self.rig()
        try upgrade.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        try upgrade.respond(0, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let gone = try records(rig), switched = try records(upgrade)
        #expect(gone.count == 1 && gone.first?["status"] as? Int == 499)
        #expect(switched.count == 1 && switched.first?["status"] as? Int == 101)
        await log.finish()
        await upgradeLog.finish()
    }

    @Test("combined captures Referer and User-Agent from the head")
    func agentHeaders() async throws {
        let (rig, log) = try rig(format: .combined)
        try rig.send("GET / HTTP/1.0\r\nUser-Agent: t/1\r\nReferer: http://r/\r\n\r\n")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        let text = lines(rig.context.accessLog!.batch, .combined)
        #expect(text.hasPrefix("10.9.8.7 - - ["), "\(text)")
        #expect(text.contains("] \"GET / HTTP/1.0\" 200 0 \"http://r/\" \"t/1\" request_id="), "\(text)")
        await log.finish()
    }
}
