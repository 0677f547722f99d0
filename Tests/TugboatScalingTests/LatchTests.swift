import Testing
@testable import TugboatScaling

/// The one-shot gate the Kubernetes provider's first list waits on.
struct LatchTests {
    @Test("wait(within:) answers true once opened, false after the limit, and stops at once when its task is cancelled")
    func boundedWait() async {
        let latch = Latch()
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await latch.wait(within: .milliseconds(100)) == false)
        #expect(clock.now - started >= .milliseconds(100))

        // Cancelled: an unreachable API server must not hold up a graceful stop.
        let waiting = Task { await latch.wait(within: .seconds(60)) }
        try? await Task.sleep(for: .milliseconds(50))
        let cancelledAt = clock.now
        waiting.cancel()
        #expect(await waiting.value == false)
        #expect(clock.now - cancelledAt < .seconds(5))

        let opener = Task {
            try? await Task.sleep(for: .milliseconds(50))
            latch.open()
        }
        #expect(await latch.wait(within: .seconds(60)) == true)
        await opener.value
        #expect(await latch.wait(within: .zero) == true, "already open: at once")
    }
}
