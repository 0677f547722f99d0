/// Waiting for a condition instead of sleeping, for test targets without a `waitUntil` of their own.
public enum Polling {
    public struct TimedOut: Error, CustomStringConvertible {
        public let description: String
    }

    /// Polls `condition` every 20 ms until it holds; throws after `timeout`.
    public static func until(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TimedOut(description: "timed out after \(timeout) waiting for: \(what)")
    }
}
