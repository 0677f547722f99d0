import Foundation

/// A real chromium steered through Playwright (Tests/Browser/driver.py): one JSON command per
/// line in, one JSON answer per line out. A failed command throws with the driver's error.
final class BrowserDriver {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let answers = LineBuffer()

    /// Whether the tests can run a browser here: Playwright for Python and Debian's chromium.
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
            && (try? Self.run("/usr/bin/env", ["python3", "-c", "import playwright"])) == 0
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Browser/driver.py").path
        // The python3 on PATH: the one scripts/test.sh installed Playwright for.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", script]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        answers.collect(from: output)
        try process.run()
    }

    /// Sends a command; returns its answer (without "ok"), or throws the driver's error.
    @discardableResult
    func send(_ command: [String: Any], timeout: Double = 60) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: command)
        input.fileHandleForWriting.write(data + Data("\n".utf8))
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let line = answers.state.withLock({ $0.lines.isEmpty ? nil : $0.lines.removeFirst() }) {
                guard let answer = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw TestFailure("browser driver: not JSON: \(line)")
                }
                guard answer["ok"] as? Bool == true else {
                    throw TestFailure("browser \(String(decoding: data, as: UTF8.self)): \(answer["error"] ?? line)")
                }
                return answer
            }
            guard process.isRunning else { throw TestFailure("the browser driver exited (\(process.terminationStatus))") }
            usleep(20_000)
        }
        throw TestFailure("browser \(command["cmd"] ?? "?"): no answer within \(timeout)s")
    }

    func quit() {
        _ = try? send(["cmd": "quit"], timeout: 10)
        if process.isRunning { process.terminate() }
    }

    deinit { if process.isRunning { process.terminate() } }
}
