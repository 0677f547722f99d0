import Foundation

struct LiveTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `check` until it returns a value, at most `timeout`: waits for a condition, never a fixed time.
func waitFor<T>(_ what: String, timeout: Duration = .seconds(10), _ check: () throws -> T?) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if let value = try check() { return value }
        guard clock.now < deadline else { throw LiveTestError("timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
