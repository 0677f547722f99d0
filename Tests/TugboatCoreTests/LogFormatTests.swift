import Foundation
import Logging
import Testing
@testable import TugboatCore

@Suite("Log lines and the log: section")
struct LogFormatTests {
    let time = Date(timeIntervalSince1970: 1_796_000_000.25)

    @Test("text lines: time, level, logger, message, then key=value sorted; values with spaces or quotes are quoted")
    func textLine() {
        let line = LogLine.text(time: time, level: .warning, label: "tugboat", message: "backend down",
                                metadata: ["backend.address": "127.0.0.1:9001", "error": "connection refused (111)", "quote": "say \"hi\""])
        #expect(line == "2026-11-30T00:53:20.250Z warning tugboat: backend down backend.address=127.0.0.1:9001 error=\"connection refused (111)\" quote=\"say \\\"hi\\\"\"\n")
        #expect(LogLine.text(time: time, level: .info, label: "t", message: "m", metadata: ["empty": ""]).hasSuffix(" empty=\"\"\n"))
        // A value cannot forge a second line.
        #expect(LogLine.text(time: time, level: .info, label: "t", message: "m", metadata: ["v": "a\nfake line"]).split(separator: "\n").count == 1)
    }

    @Test("JSON lines are one valid object per line with the metadata as fields")
    func jsonLine() throws {
        let line = LogLine.json(time: time, level: .error, label: "tugboat", message: "page \"failed\"\n",
                                metadata: ["incident.id": "7", "message": "clash", "list": .array(["a", "b"]), "control": "\u{01}"])
        #expect(line.hasSuffix("}\n") && line.dropLast().split(separator: "\n").count == 1)
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "2026-11-30T00:53:20.250Z")
        #expect(object["level"] as? String == "error")
        #expect(object["logger"] as? String == "tugboat")
        #expect(object["message"] as? String == "page \"failed\"\n")
        #expect(object["incident.id"] as? String == "7")
        #expect(object["meta.message"] as? String == "clash")
        #expect(object["list"] as? [String] == ["a", "b"])
        #expect(object["control"] as? String == "\u{01}")
    }
}

@Suite("systemd notify")
struct SystemdNotifierTests {
    @Test("NOTIFY_SOCKET is taken out of the environment, so no child inherits it; odd values are ignored")
    func environment() {
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1)
        let notifier = SystemdNotifier.fromEnvironment()
        #expect(notifier.isActive)
        #expect(getenv("NOTIFY_SOCKET") == nil)
        #expect(ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] == nil)
        #expect(!SystemdNotifier(socket: "relative/path").isActive)
        #expect(!SystemdNotifier(socket: nil).isActive)
        #expect(SystemdNotifier(socket: "@abstract").isActive)
    }
}
