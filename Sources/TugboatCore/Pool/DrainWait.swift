/// How a drain is waited out (a removed backend's in-flight requests, a scaled-down instance's):
/// `isDone` is asked at once and then every `interval` until it holds or `limit` has passed on
/// `clock`. Returns whether it finished in time; cancellation ends the wait (false).
package enum DrainWait {
    package static func until<C: Clock>(within limit: Duration, every interval: Duration, clock: C,
                                       _ isDone: () async -> Bool) async -> Bool where C.Duration == Duration {
        let deadline = clock.now.advanced(by: limit)
        while true {
            if await isDone() { return true }
            let now = clock.now
            guard now < deadline else { return false }
            let next = now.advanced(by: interval)
            do {
                try await clock.sleep(until: next < deadline ? next : deadline, tolerance: nil)
            } catch {
                return false
            }
        }
    }

    /// The same on the continuous clock.
    package static func until(within limit: Duration, every interval: Duration, _ isDone: () async -> Bool) async -> Bool {
        await until(within: limit, every: interval, clock: ContinuousClock(), isDone)
    }
}
