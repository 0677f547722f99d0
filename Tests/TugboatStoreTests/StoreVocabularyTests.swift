import Foundation
import GRDB
import Testing
import TugboatCore
@testable import TugboatStore

@Suite("Store: states and kinds read back as the shared enums")
struct StoreVocabularyTests {
    @Test("rows round-trip their states as the wire words; an unknown word in the database is a clear error, not a crash")
    func unknownWords() async throws {
        let path = NSTemporaryDirectory() + "tugboat-store-\(UUID().uuidString)/state/tugboat.db"
        let store = try Store(path: path)
        var page = NotificationRecord(incident: 0, channel: "log", recipient: nil, kind: .escalation, text: "x", at: Date())
        page.status = .silenced
        try await store.save(IncidentRecord(rule: "r", target: "t", state: .acknowledged, summary: "s", startedAt: Date()), notifications: [page])
        try await store.recordScalingEvent(.init(at: Date(), from: 1, to: 2, state: .draining, reason: "r", failed: false))
        let words = try await store.database.read { db in
            try String.fetchAll(db, sql: "SELECT state FROM incident UNION ALL SELECT kind || '/' || status FROM notification UNION ALL SELECT state FROM scalingEvent")
        }
        #expect(words == ["acknowledged", "escalation/silenced", "DRAINING"])
        #expect(try await store.incidents().map(\.state) == [.acknowledged])
        #expect(try await store.notificationCounts() == [.silenced: 1])

        // A newer version (or a hand edit) wrote words this one does not know.
        try await store.database.write { db in
            try db.execute(sql: "UPDATE incident SET state = 'exploded'")
            try db.execute(sql: "UPDATE notification SET status = 'delivered'")
            try db.execute(sql: "UPDATE scalingEvent SET state = 'NAPPING'")
        }
        func message(_ read: () async throws -> Any) async -> String {
            do {
                _ = try await read()
                return "read without an error"
            } catch {
                return String(describing: error)
            }
        }
        #expect(await message { try await store.incidents() }.contains(#"unknown incident state "exploded""#))
        #expect(await message { try await store.openIncidents() }.contains(#"unknown incident state "exploded""#))
        #expect(await message { try await store.notifications() }.contains(#"unknown notification status "delivered""#))
        #expect(await message { try await store.notificationCounts() }.contains(#"unknown notification status "delivered""#))
        #expect(await message { try await store.scalingEvents() } == #"unknown scaling state "NAPPING" (expected one of: IDLE, BUSY, READY, UP, DRAINING)"#)
    }
}
