import Foundation
import Testing
import TugboatCore

/// The states and kinds travel as these words in the admin API, the SQLite database and Redis
/// (DESIGN.md's API section): a renamed case must not change them.
@Suite("Vocabulary: wire words")
struct VocabularyTests {
    @Test("each enum's raw values are the documented wire words, in order")
    func wireWords() {
        #expect(IncidentState.allCases.map(\.rawValue) == ["pending", "firing", "acknowledged", "resolved"])
        #expect(NotificationKind.allCases.map(\.rawValue) == ["trigger", "update", "repeat", "escalation", "acknowledge", "resolve"])
        #expect(NotificationStatus.allCases.map(\.rawValue) == ["pending", "sent", "failed", "silenced"])
        #expect(ScalingState.allCases.map(\.rawValue) == ["IDLE", "BUSY", "READY", "UP", "DRAINING"])
        #expect(BackendState.allCases.map(\.rawValue) == ["starting", "healthy", "unhealthy", "draining"])
    }

    @Test("JSON carries the wire word, and text interpolation (logs) shows it too")
    func encoding() throws {
        struct Row: Codable, Equatable { var state: ScalingState; var kind: NotificationKind }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(Row(state: .draining, kind: .repeat))
        #expect(String(decoding: data, as: UTF8.self) == #"{"kind":"repeat","state":"DRAINING"}"#)
        #expect(try JSONDecoder().decode(Row.self, from: data) == Row(state: .draining, kind: .repeat))
        #expect("\(ScalingState.idle) \(NotificationKind.repeat) \(IncidentState.firing)" == "IDLE repeat firing")
    }

    @Test("an unknown word is an error naming it and the known ones, from text and from JSON")
    func unknownWord() throws {
        #expect(throws: UnknownWord(vocabulary: "notification status", word: "delivered", known: ["pending", "sent", "failed", "silenced"])) {
            try NotificationStatus(wire: "delivered")
        }
        #expect(throws: UnknownWord.self) { try IncidentState(wire: "FIRING") }
        do {
            _ = try JSONDecoder().decode([IncidentState].self, from: Data(#"["firing","exploded"]"#.utf8))
            Issue.record("an unknown state was read")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription == #"unknown incident state "exploded" (expected one of: pending, firing, acknowledged, resolved)"#)
        }
    }
}
