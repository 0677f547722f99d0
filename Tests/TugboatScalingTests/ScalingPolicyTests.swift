import Testing
import TugboatCore
@testable import TugboatScaling

/// Pure policy tests: time is injected as offsets from a fixed instant.
struct ScalingPolicyTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64(seconds * 1000)) }

    func settings(_ mode: ScalingSettings.Mode = .targetTracking(targetRPS: 50), min: Int = 1, max: Int = 8,
                  window: Int = 10, cooldownUp: Int = 5, stabilizeDown: Int = 60, panicWindow: Int = 2,
                  idleToZero: Int = 300) -> ScalingSettings {
        ScalingSettings(provider: .process(command: "app --port {port}", ports: 9100...9199), mode: mode,
                        min: min, max: max, window: .seconds(window), cooldownUp: .seconds(cooldownUp),
                        stabilizeDown: .seconds(stabilizeDown), panicWindow: .seconds(panicWindow),
                        idleToZero: .seconds(idleToZero))
    }

    /// Feeds one sample a second at `rate` over seconds `from..<to`.
    func feed(_ policy: inout ScalingPolicy, rate: Double, from: Int, to: Int) {
        for s in from..<to { policy.observe(rate: rate, at: at(Double(s))) }
    }

    @Test func stableRateIsTheMeanOverTheWindow() {
        var policy = ScalingPolicy(settings: settings(window: 10))
        feed(&policy, rate: 100, from: 0, to: 10)
        #expect(policy.stableRate(now: at(9)) == 100)
        feed(&policy, rate: 0, from: 10, to: 15)
        #expect(policy.stableRate(now: at(14)) == 50)  // 5 s of 100, 5 s of 0
        feed(&policy, rate: 0, from: 15, to: 20)
        #expect(policy.stableRate(now: at(19)) == 0)
        #expect(policy.panicRate(now: at(19)) == 0)
    }

    @Test func targetTrackingScalesToCeilOfRateOverTarget() {
        var policy = ScalingPolicy(settings: settings())
        feed(&policy, rate: 130, from: 0, to: 10)
        let decision = policy.decide(current: 2, ready: 2, now: at(9))
        #expect(decision.desired == 3)  // ceil(130 / 50)
        #expect(!decision.panic)
    }

    @Test func deadBandHoldsWithinTenPercent() {
        var policy = ScalingPolicy(settings: settings())
        feed(&policy, rate: 109, from: 0, to: 10)  // 2 × 50 = 100; 109 is within 10 %
        #expect(policy.decide(current: 2, ready: 2, now: at(9)).desired == 2)
        feed(&policy, rate: 111, from: 10, to: 20)  // 11 % above: out of the band
        #expect(policy.decide(current: 2, ready: 2, now: at(19)).desired == 3)
    }

    @Test func deadBandHoldsBelowTargetToo() {
        var policy = ScalingPolicy(settings: settings(stabilizeDown: 0))
        feed(&policy, rate: 91, from: 0, to: 10)  // 9 % below 2 × 50
        #expect(policy.decide(current: 2, ready: 2, now: at(9)).desired == 2)
    }

    @Test func cooldownUpBlocksASecondScaleUp() {
        var policy = ScalingPolicy(settings: settings(cooldownUp: 5))
        feed(&policy, rate: 90, from: 0, to: 10)
        #expect(policy.decide(current: 1, ready: 1, now: at(9)).desired == 2)
        feed(&policy, rate: 195, from: 10, to: 12)
        // Mean over 10 s is now 111: 3 wanted, but the last scale-up was 2 s ago.
        let held = policy.decide(current: 2, ready: 2, now: at(11))
        #expect(held.desired == 2)
        #expect(held.reason.hasPrefix("cooldown-up"))
        #expect(!held.panic)
        feed(&policy, rate: 195, from: 12, to: 15)
        #expect(policy.decide(current: 2, ready: 2, now: at(14)).desired == 3)  // 5 s later
    }

    @Test func stabilizeDownKeepsTheHighestRecommendationOfTheWindow() {
        var policy = ScalingPolicy(settings: settings(window: 1, stabilizeDown: 30))
        feed(&policy, rate: 200, from: 0, to: 1)
        #expect(policy.decide(current: 4, ready: 4, now: at(0)).desired == 4)
        // The rate falls: 1 instance would do, but 4 was recommended within 30 s.
        for s in 1..<30 {
            policy.observe(rate: 40, at: at(Double(s)))
            let decision = policy.decide(current: 4, ready: 4, now: at(Double(s)))
            #expect(decision.desired == 4, "second \(s)")
        }
        policy.observe(rate: 40, at: at(31))
        #expect(policy.decide(current: 4, ready: 4, now: at(31)).desired == 1)
    }

    @Test func stabilizeDownStepsThroughIntermediateRecommendations() {
        var policy = ScalingPolicy(settings: settings(window: 1, stabilizeDown: 10))
        policy.observe(rate: 200, at: at(0))
        _ = policy.decide(current: 4, ready: 4, now: at(0))
        policy.observe(rate: 140, at: at(5))
        _ = policy.decide(current: 4, ready: 4, now: at(5))  // recommends 3
        policy.observe(rate: 10, at: at(11))
        #expect(policy.decide(current: 4, ready: 4, now: at(11)).desired == 3)  // 3 still in the window
        policy.observe(rate: 10, at: at(16))
        #expect(policy.decide(current: 3, ready: 3, now: at(16)).desired == 1)
    }

    @Test func noScaleDownRightAfterStart() {
        // A restart adopting 3 instances with no traffic yet must not drop them at once.
        var policy = ScalingPolicy(settings: settings(stabilizeDown: 60))
        policy.observe(rate: 0, at: at(0))
        #expect(policy.decide(current: 3, ready: 3, now: at(0)).desired == 3)
        policy.observe(rate: 0, at: at(61))
        #expect(policy.decide(current: 3, ready: 3, now: at(61)).desired == 1)
    }

    @Test func minAndMaxBoundTheCount() {
        var policy = ScalingPolicy(settings: settings(min: 2, max: 3, stabilizeDown: 0))
        feed(&policy, rate: 190, from: 0, to: 10)
        let capped = policy.decide(current: 2, ready: 2, now: at(9))
        #expect(capped.desired == 3)  // ceil(190 / 50) = 4, capped
        #expect(capped.reason.contains("max 3"))
        feed(&policy, rate: 0, from: 10, to: 30)
        let floor = policy.decide(current: 3, ready: 3, now: at(29))
        #expect(floor.desired == 2)
        #expect(floor.reason.contains("min 2"))
        // Below min (an instance exited): back up to min even without traffic.
        #expect(policy.decide(current: 1, ready: 1, now: at(40)).desired == 2)
    }

    @Test func panicScalesUpAtOnceIgnoringCooldown() {
        var policy = ScalingPolicy(settings: settings(max: 20, window: 10, cooldownUp: 60, panicWindow: 2))
        feed(&policy, rate: 60, from: 0, to: 10)
        #expect(policy.decide(current: 1, ready: 1, now: at(9)).desired == 2)  // cooldown starts
        // A burst: 400 rps for 2 s against 2 ready × 50 = 100 rps of capacity.
        feed(&policy, rate: 400, from: 10, to: 12)
        let decision = policy.decide(current: 2, ready: 2, now: at(11))
        #expect(decision.panic)
        #expect(decision.desired == 8)  // ceil(400 / 50), not the stable mean's ceil(128 / 50) = 3
        #expect(decision.reason.hasPrefix("panic"))
    }

    @Test func panicBlocksScaleDownUntilAQuietWindow() {
        var policy = ScalingPolicy(settings: settings(max: 20, window: 10, cooldownUp: 0, stabilizeDown: 0, panicWindow: 2))
        feed(&policy, rate: 50, from: 0, to: 10)
        _ = policy.decide(current: 1, ready: 1, now: at(9))
        feed(&policy, rate: 400, from: 10, to: 12)
        #expect(policy.decide(current: 1, ready: 1, now: at(11)).desired == 8)
        // The burst is over at once; the panic lasts a window after the condition last held.
        feed(&policy, rate: 0, from: 12, to: 20)
        let held = policy.decide(current: 8, ready: 8, now: at(19))
        #expect(held.panic)
        #expect(held.desired == 8)
        feed(&policy, rate: 0, from: 20, to: 23)
        let after = policy.decide(current: 8, ready: 8, now: at(22))
        #expect(!after.panic)
        #expect(after.desired == 1)
    }

    @Test func noPanicWithoutReadyInstances() {
        var policy = ScalingPolicy(settings: settings(min: 0, window: 10))
        feed(&policy, rate: 400, from: 0, to: 2)
        let decision = policy.decide(current: 0, ready: 0, now: at(1))
        #expect(!decision.panic)
        #expect(decision.desired == 8)  // from zero: ceil(400 / 50)
    }

    @Test func thresholdsStepOneInstanceAtATime() {
        var policy = ScalingPolicy(settings: settings(.thresholds(upRPS: 80, downRPS: 20), cooldownUp: 0, stabilizeDown: 0))
        feed(&policy, rate: 300, from: 0, to: 10)
        #expect(policy.decide(current: 2, ready: 2, now: at(9)).desired == 3)  // 150 per instance > 80: one more
        feed(&policy, rate: 120, from: 10, to: 20)
        #expect(policy.decide(current: 3, ready: 3, now: at(19)).desired == 3)  // 40 per instance: in between
        feed(&policy, rate: 30, from: 20, to: 30)
        #expect(policy.decide(current: 3, ready: 3, now: at(29)).desired == 2)  // 10 per instance < 20: one less
        #expect(policy.decide(current: 1, ready: 1, now: at(29)).desired == 1)  // 30 per instance, and min 1
    }

    @Test func thresholdsFromZero() {
        var policy = ScalingPolicy(settings: settings(.thresholds(upRPS: 80, downRPS: 20), min: 0))
        policy.observe(rate: 1, at: at(0))
        #expect(policy.decide(current: 0, ready: 0, now: at(0)).desired == 1)
    }

    @Test func scaleToZeroOnlyAfterIdleToZero() {
        var policy = ScalingPolicy(settings: settings(min: 0, window: 5, stabilizeDown: 0, idleToZero: 30))
        feed(&policy, rate: 10, from: 0, to: 5)
        #expect(policy.decide(current: 1, ready: 1, now: at(4)).desired == 1)
        feed(&policy, rate: 0, from: 5, to: 20)
        let early = policy.decide(current: 1, ready: 1, now: at(19))
        #expect(early.desired == 1)  // idle only 15 s
        feed(&policy, rate: 0, from: 20, to: 36)
        #expect(policy.decide(current: 1, ready: 1, now: at(35)).desired == 0)
        // At zero, a request brings one back.
        policy.observe(rate: 3, at: at(36))
        #expect(policy.decide(current: 0, ready: 0, now: at(36)).desired == 1)
    }

    @Test func settingsProblems() {
        #expect(settings().problem == nil)
        #expect(settings(min: 3, max: 2).problem != nil)
        #expect(settings(.targetTracking(targetRPS: 0)).problem != nil)
        #expect(settings(.thresholds(upRPS: 10, downRPS: 20)).problem != nil)
        #expect(settings(window: 1, panicWindow: 2).problem != nil)
    }

    // MARK: in-flight concurrency (target-inflight)

    func concurrencySettings(targetInflight: Double, stabilizeDown: Int = 60) -> ScalingSettings {
        var settings = settings(.targetTracking(targetRPS: 1000), stabilizeDown: stabilizeDown)
        settings.targetInflight = targetInflight
        return settings
    }

    @Test func slowRequestsScaleUpByConcurrencyWhenTheRateIsLow() {
        // 20 rps of 1-second requests: 20 in flight. The rate alone (target 1000) wants one instance.
        var policy = ScalingPolicy(settings: concurrencySettings(targetInflight: 5))
        for s in 0..<10 { policy.observe(rate: 20, concurrency: 20, at: at(Double(s))) }
        let decision = policy.decide(current: 1, ready: 1, now: at(9))
        #expect(decision.desired == 4)  // ceil(20 / 5)
        #expect(decision.stableConcurrency == 20)
        #expect(decision.reason.contains("in flight 20"), "\(decision.reason)")
    }

    @Test func concurrencyDeadBandHoldsAndRateStillRulesWhenHigher() {
        var policy = ScalingPolicy(settings: concurrencySettings(targetInflight: 10))
        for s in 0..<10 { policy.observe(rate: 100, concurrency: 21, at: at(Double(s))) }  // 2 × 10, +5 %
        #expect(policy.decide(current: 2, ready: 2, now: at(9)).desired == 2)
        // The rate needs more than the concurrency does: the higher recommendation wins.
        for s in 10..<20 { policy.observe(rate: 4500, concurrency: 21, at: at(Double(s))) }
        #expect(policy.decide(current: 2, ready: 2, now: at(19)).desired == 5)  // ceil(4500 / 1000)
    }

    @Test func aConcurrencyBurstPanics() {
        var policy = ScalingPolicy(settings: concurrencySettings(targetInflight: 5))
        for s in 0..<8 { policy.observe(rate: 10, concurrency: 4, at: at(Double(s))) }
        #expect(policy.decide(current: 1, ready: 1, now: at(7)).desired == 1)
        // 30 in flight over the 2 s panic window against 1 ready × 5: at once to ceil(30 / 5).
        for s in 8..<10 { policy.observe(rate: 10, concurrency: 30, at: at(Double(s))) }
        let decision = policy.decide(current: 1, ready: 1, now: at(9))
        #expect(decision.panic)
        #expect(decision.desired == 6)
    }

    @Test func requestsStillInFlightKeepTheLastInstanceFromIdlingToZero() {
        var settings = concurrencySettings(targetInflight: 5, stabilizeDown: 0)
        settings.min = 0
        settings.idleToZero = .seconds(5)
        var policy = ScalingPolicy(settings: settings)
        // A long download: nothing finishes (rate 0) but one request is in flight the whole time.
        for s in 0..<20 { policy.observe(rate: 0, concurrency: 1, at: at(Double(s))) }
        #expect(policy.decide(current: 1, ready: 1, now: at(19)).desired == 1)
        for s in 20..<30 { policy.observe(rate: 0, concurrency: 0, at: at(Double(s))) }
        #expect(policy.decide(current: 1, ready: 1, now: at(29)).desired == 0)
    }
}
