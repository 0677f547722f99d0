import Foundation
import GRDB
import Testing
import TugboatCore
@testable import TugboatStore

@Suite("Store: states and kinds read back as the shared enums")
struct StoreVocabularyTests {
    @Test("rows round-trip their states as the wire words; an unknown word in the database is a clear error, not a crash")
    func unknownWords() throws {
        let path = NSTemporaryDirectory() + "tugboat-store-\(UUID().uuidString)/state/tugboat.db"
        let store = try Store(path: path)
        var page = NotificationRecord(incident: 0, channel: "log", recipient: nil, kind: .escalation, text: "x", at: Date())
        page.status = .silenced
        try store.save(IncidentRecord(rule: "r", target: "t", state: .acknowledged, summary: "s", startedAt: Date()), notifications: [page])
        try store.recordScalingEvent(.init(at: Date(), from: 1, to: 2, state: .draining, reason: "r", failed: false))
        let words = try store.database.read { db in
            try String.fetchAll(db, sql: "SELECT state FROM incident UNION ALL SELECT kind || '/' || status FROM notification UNION ALL SELECT state FROM scalingEvent")
        }
        #expect(words == ["acknowledged", "escalation/silenced", "DRAINING"])
        #expect(try store.incidents().map(\.state) == [.acknowledged])
        #expect(try store.notificationCounts() == [.silenced: 1])

        // A newer version (or a hand edit) wrote words this one does not know.
        try store.database.write { db in
            try db.execute(sql: "UPDATE incident SET state = 'exploded'")
            try db.execute(sql: "UPDATE notification SET status = 'delivered'")
            try db.execute(sql: "UPDATE scalingEvent SET state = 'NAPPING'")
        }
        func message(_ read: () throws -> Any) -> String {
            do {
                _ = try read()
                return "read without an error"
            } catch {
                return String(describing: error)
            }
        }
        #expect(message { try store.incidents() }.contains(#"unknown incident state "exploded""#), "\(message { try store.incidents() })")
        #expect(message { try store.openIncidents() }.contains(#"unknown incident state "exploded""#))
        #expect(message { try store.notifications() }.contains(#"unknown notification status "delivered""#))
        #expect(message { try store.notificationCounts() }.contains(#"unknown notification status "delivered""#))
        #expect(message { try store.scalingEvents() } == #"unknown scaling state "NAPPING" (expected one of: IDLE, BUSY, READY, UP, DRAINING)"#)
    }
}
