import Testing
import TugboatCore
@testable import TugboatScaling

/// The state machine with a platform that picks which instances leave (Kubernetes).
struct PlatformPicksLeaversTests {
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64(seconds * 1000)) }

    func instance(_ port: Int) -> ScalingInstance {
        ScalingInstance(providerID: "web-\(port)", address: HostPort(host: "127.0.0.1", port: port))
    }

    /// Three ready instances, settled.
    func settled() -> ScalingStateMachine {
        var m = ScalingStateMachine(settings: ScalingSettings(provider: .kubernetes(KubernetesTarget(namespace: "default", deployment: "web", service: "web")),
                                                              cooldownUp: .seconds(1), drain: .seconds(5), startTimeout: .seconds(30)),
                                    platformPicksLeavers: true)
        let tokens = m.event(.desired(3, reason: "start"), now: at(0)).compactMap { if case .launch(let t) = $0 { t } else { nil } }
        for (i, token) in tokens.enumerated() {
            _ = m.event(.launched(token: token, instance(9001 + i)), now: at(1))
            _ = m.event(.healthy(instance(9001 + i).address), now: at(1))
        }
        _ = m.event(.desired(3, reason: "hold"), now: at(5))
        return m
    }

    @Test("a scale-down asks for a count once and drains what the platform picks, not the newest")
    func shrinkThenDrainThePicked() {
        var m = settled()
        #expect(m.state == .idle)
        let down = m.event(.desired(1, reason: "rate fell"), now: at(10))
        #expect(down.contains(.shrink(to: 1)))
        #expect(!down.contains { if case .drain = $0 { true } else { false } }, "the machine does not choose")
        #expect(m.state == .draining)
        // Asked again while the platform works: nothing more.
        #expect(m.event(.desired(1, reason: "rate fell"), now: at(11)).filter { if case .shrink = $0 { true } else { false } }.isEmpty)

        let first = m.event(.leaving(instance(9001)), now: at(12))  // the oldest, picked by Kubernetes
        #expect(first.contains(.drain(instance(9001), duration: .seconds(5))))
        _ = m.event(.leaving(instance(9002)), now: at(12))
        #expect(m.activeCount == 1)
        let drained = m.event(.drained(instance(9001)), now: at(13))
        #expect(drained.contains(.removeFromPool(instance(9001))))
        #expect(drained.contains(.stop(instance(9001))))
        _ = m.event(.stopped(instance(9001)), now: at(13))
        _ = m.event(.drained(instance(9002)), now: at(13))
        let last = m.event(.stopped(instance(9002)), now: at(14))
        #expect(last.contains { if case .record(let r) = $0 { r.state == .idle } else { false } })
        #expect(m.instances == [instance(9003)])
    }

    @Test("an instance taken away unasked (an evicted pod) is drained, and the count is made up again")
    func unaskedLeaver() {
        var m = settled()
        let taken = m.event(.leaving(instance(9002)), now: at(10))
        #expect(taken.contains(.drain(instance(9002), duration: .seconds(5))))
        #expect(m.activeCount == 2)
        _ = m.event(.drained(instance(9002)), now: at(11))
        _ = m.event(.stopped(instance(9002)), now: at(11))
        let again = m.event(.desired(3, reason: "hold"), now: at(12))
        #expect(again.contains { if case .launch = $0 { true } else { false } })
    }

    @Test("a failed shrink is a failed transition with an alert, retried after a backoff")
    func shrinkFails() {
        var m = settled()
        _ = m.event(.desired(1, reason: "rate fell"), now: at(10))
        let failed = m.event(.shrinkFailed(error: "kubernetes: patch deployments/scale … 403 Forbidden"), now: at(10.5))
        #expect(failed.contains { if case .alert(let text) = $0 { text.contains("403 Forbidden") } else { false } })
        #expect(failed.contains { if case .record(let r) = $0 { r.failed } else { false } })
        #expect(!m.event(.desired(1, reason: "rate fell"), now: at(10.6)).contains(.shrink(to: 1)), "backing off")
        #expect(m.event(.desired(1, reason: "rate fell"), now: at(12)).contains(.shrink(to: 1)))
    }

    @Test("a shrink nobody carries out ends after the start timeout, as a failure")
    func shrinkTimesOut() {
        var m = settled()
        _ = m.event(.desired(1, reason: "rate fell"), now: at(10))
        let late = m.event(.desired(1, reason: "rate fell"), now: at(41))
        #expect(late.contains { if case .alert(let text) = $0 { text.contains("took no instance away") } else { false } })
    }

    @Test("a follower (no desired count) adds each arrival as starting, counts it ready once healthy, and drains leavers")
    func followerFollowsArrivalsAndLeavers() {
        var m = ScalingStateMachine(settings: ScalingSettings(provider: .kubernetes(KubernetesTarget(namespace: "default", deployment: "web", service: "web")),
                                                              drain: .seconds(5)),
                                    platformPicksLeavers: true)
        _ = m.event(.adopted([instance(9001)]), now: at(0))
        _ = m.event(.healthy(instance(9001).address), now: at(1))
        let arrival = m.event(.adopted([instance(9002)]), now: at(2))
        #expect(arrival.contains(.addToPool(instance(9002))))
        #expect(arrival.contains(.waitHealthy(instance(9002))))
        #expect(m.event(.adopted([instance(9002)]), now: at(2)).isEmpty, "an instance already known is not added twice")
        _ = m.event(.healthy(instance(9002).address), now: at(3))
        #expect(m.readyCount == 2)
        let leaving = m.event(.leaving(instance(9002)), now: at(4))
        #expect(leaving.contains(.drain(instance(9002), duration: .seconds(5))))
        #expect(!leaving.contains { if case .shrink = $0 { true } else { false } }, "a follower never asks for a count")
        let drained = m.event(.drained(instance(9002)), now: at(5))
        #expect(drained.contains(.removeFromPool(instance(9002))))
        _ = m.event(.stopped(instance(9002)), now: at(5))
        #expect(m.activeCount == 1)
    }
}
