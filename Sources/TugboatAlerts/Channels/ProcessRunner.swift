import Foundation

/// Runs a program with bytes on stdin and waits for its exit, killing it after `timeout`.
enum ProcessRunner {
    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "timed out" }
    }

    static func run(_ argv: [String], stdin: Data, timeout: Duration) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0].contains("/") ? argv[0] : "/usr/bin/env")
        process.arguments = argv[0].contains("/") ? Array(argv.dropFirst()) : argv
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            input.fileHandleForWriting.write(stdin)
            try? input.fileHandleForWriting.close()
            Task {
                try? await Task.sleep(for: timeout)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
        }
        return status
    }
}
