import Foundation
import NIOCore
import Testing
import TugboatRedis

@testable import TugboatCluster

@Suite("Shared silences (pure)")
struct SilenceFormatTests {
    let silence = SharedSilence(matchers: ["rule": "front-down"], starts: Date(timeIntervalSince1970: 1_738_324_800.1234),
                                ends: Date(timeIntervalSince1970: 1_738_332_000), comment: "deploy", createdBy: "ops",
                                createdAt: Date(timeIntervalSince1970: 1_738_324_800))

    func reply(_ pairs: [(String, RESPValue)]) -> RESPValue {
        .array(pairs.flatMap { [RESPValue.bulk($0.0), $0.1] })
    }

    @Test("a silence is the documented JSON (no id: it is the field) and reads back to the millisecond")
    func json() throws {
        let json = ClusterJSON.encode(silence)
        #expect(json == #"{"comment":"deploy","created_at":"2025-01-31T12:00:00.000Z","created_by":"ops","ends":"2025-01-31T14:00:00.000Z","matchers":{"rule":"front-down"},"starts":"2025-01-31T12:00:00.123Z"}"#)
        var back = try #require(ClusterJSON.decode(SharedSilence.self, from: json))
        back.id = silence.id
        #expect(back == silence)
        #expect(ClusterKeys(pool: "web").silences == "tugboat:web:silences")
        #expect(ClusterKeys(pool: "web").silenceID == "tugboat:web:silence-id")
    }

    @Test("a read keeps the good entries by id and skips, with the reason, what is malformed, oversized or not a silence")
    func malformedEntriesAreSkipped() throws {
        let good = RESPValue.bulk(ClusterJSON.encode(silence))
        let entries = try SilenceEntries.parse(reply([
            ("7", good),
            ("3", good),
            ("4", .bulk(#"{"matchers":{"rule":"x"},"ends":"tomorrow"}"#)),
            ("5", .bulk("{not json")),
            ("6", .bulkString(ByteBuffer(bytes: [0xff, 0xfe, 0x7b]))),
            ("8", .integer(70_000)),  // the script's stand-in for an oversized value
            ("9", .bulk("{\"comment\":\"" + String(repeating: "x", count: 70_000) + "\"}")),
            ("not-an-id", good),
            ("-2", good),
            ("03", good),  // the same id as "3"
            ("10", .array([])),
        ]))
        #expect(entries.silences.map(\.id) == [3, 7])
        #expect(entries.silences.first?.matchers == ["rule": "front-down"])
        let reasons = Dictionary(entries.skipped.map { ($0.field, $0.reason) }, uniquingKeysWith: { $1 })
        #expect(reasons["4"] == "not a silence's JSON" && reasons["5"] == "not a silence's JSON" && reasons["6"] == "not a silence's JSON")
        #expect(reasons["8"] == "larger than 65536 bytes (70000)")
        #expect(reasons["9"]?.hasPrefix("larger than 65536 bytes") == true)
        #expect(reasons["not-an-id"] == "not a silence id" && reasons["-2"] == "not a silence id")
        #expect(reasons["3"] == "the same id twice")
        #expect(reasons["10"] == "not a string")
        #expect(entries.skipped.count == 9)
    }

    @Test("more silences than are read fail the read; a reply that is no hash is refused")
    func bounds() throws {
        let good = RESPValue.bulk(ClusterJSON.encode(silence))
        let three = reply([("1", good), ("2", good), ("3", good)])
        #expect(try SilenceEntries.parse(three, maximumCount: 3).silences.count == 3)
        #expect(throws: ClusterError.limit("3 silences stored, at most 2 are read")) { try SilenceEntries.parse(three, maximumCount: 2) }
        #expect(throws: ClusterError.self) { try SilenceEntries.parse(.bulk("OK")) }
        #expect(throws: ClusterError.self) { try SilenceEntries.parse(.array([.bulk("1")])) }
        #expect(try SilenceEntries.parse(.array([])).silences.isEmpty)
        let long = String(repeating: "9", count: 100_000)
        #expect(try SilenceEntries.parse(reply([(long, good)])).skipped.first?.field.count == 64)
        // The scripts' refusal becomes a clear error.
        #expect(ClusterError(RedisError.server("TOO_MANY_SILENCES 10000 silences stored, at most 10000")) == .limit("10000 silences stored, at most 10000"))
    }
}
