import Foundation

/// A condition a test waited for did not come to hold in time.
package struct TimedOut: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Waits for a condition instead of sleeping: polls `condition` every `interval` until it holds,
/// and throws ``TimedOut`` after `timeout`, naming `what` and the condition's last error (a
/// condition that throws is asked again). Returns how long it took.
@discardableResult
package func waitUntil(_ what: String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(20),
                      _ condition: () async throws -> Bool) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    var lastError: (any Error)?
    while true {
        do {
            if try await condition() { return clock.now - start }
            lastError = nil
        } catch {
            lastError = error
        }
        // Asked once more after the deadline: a test starved of threads past it still sees the
        // condition that came to hold meanwhile.
        if clock.now >= start + timeout { break }
        try await Task.sleep(for: interval)
    }
    throw TimedOut("timed out after \(timeout) waiting for: \(what)" + (lastError.map { " (last error: \($0))" } ?? ""))
}

/// The same for a test that is not async (the end-to-end tests): blocks its thread while it polls.
package func waitUntilBlocking(timeout: Duration = .seconds(20), _ what: String, every interval: Duration = .milliseconds(50),
                      _ condition: () throws -> Bool) throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var lastError: (any Error)?
    while true {
        do {
            if try condition() { return }
            lastError = nil
        } catch {
            lastError = error
        }
        if clock.now >= deadline { break }
        Thread.sleep(forTimeInterval: interval / .seconds(1))
    }
    throw TimedOut("timed out after \(timeout) waiting for \(what)" + (lastError.map { " (last error: \($0))" } ?? ""))
}
