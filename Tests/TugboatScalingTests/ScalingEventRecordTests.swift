import Foundation
import Logging
import Testing
import TugboatCore
@testable import TugboatScaling

struct ScalingEventRecordTests {
    @Test func encodesTheAdminRowShape() throws {
        let record = ScalingEventRecord(at: Date(timeIntervalSince1970: 1_764_086_400.25),
                                        transition: ScalingTransition(from: 1, to: 3, state: .busy, reason: "rate 130 rps needs 3 × 50 rps"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(record), as: UTF8.self)
        #expect(json == #"{"at":"2025-11-25T16:00:00.250Z","failed":false,"from":1,"reason":"rate 130 rps needs 3 × 50 rps","state":"BUSY","to":3}"#)
        #expect(try JSONDecoder().decode(ScalingEventRecord.self, from: Data(json.utf8)) == record)
    }

    @Test func settingsMakeTheirProvider() {
        let logger = Logger(label: "test")
        let process = ScalingSettings(provider: .process(command: "app {port}", ports: 9100...9199)).makeProvider(logger: logger)
        #expect(process.name == "process")
        let exec = ScalingSettings(provider: .exec(up: "up", down: "down", timeout: .seconds(1))).makeProvider(logger: logger)
        #expect(exec.name == "exec")
        let docker = ScalingSettings(provider: .docker(image: "web:1", port: 80, socket: "/nonexistent.sock")).makeProvider(logger: logger)
        #expect(docker.name == "docker")
    }
}
