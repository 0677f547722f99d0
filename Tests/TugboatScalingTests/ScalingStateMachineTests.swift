import Testing
import TugboatCore
@testable import TugboatScaling

/// Pure state machine tests: events in, actions out, time injected.
struct ScalingStateMachineTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64(seconds * 1000)) }

    func machine(drain: Int = 30, cooldownUp: Int = 5, startTimeout: Int = 60) -> ScalingStateMachine {
        ScalingStateMachine(settings: ScalingSettings(
            provider: .exec(up: "up.sh", down: "down.sh", timeout: .seconds(60)),
            cooldownUp: .seconds(cooldownUp), drain: .seconds(drain), startTimeout: .seconds(startTimeout),
            retryFirst: .seconds(1), retryMax: .seconds(8)))
    }

    func instance(_ port: Int) -> ScalingInstance {
        ScalingInstance(providerID: "p\(port)", address: HostPort(host: "127.0.0.1", port: port))
    }

    func records(_ actions: [ScalingStateMachine.Action]) -> [ScalingTransition] {
        actions.compactMap { if case .record(let r) = $0 { r } else { nil } }
    }

    func launchTokens(_ actions: [ScalingStateMachine.Action]) -> [Int] {
        actions.compactMap { if case .launch(let token) = $0 { token } else { nil } }
    }

    func alerts(_ actions: [ScalingStateMachine.Action]) -> [String] {
        actions.compactMap { if case .alert(let text) = $0 { text } else { nil } }
    }

    /// Brings a machine to `count` ready instances on ports 9001... and returns it settled (IDLE).
    func settled(_ count: Int) -> ScalingStateMachine {
        var m = machine()
        let tokens = launchTokens(m.event(.desired(count, reason: "start"), now: at(0)))
        for (i, token) in tokens.enumerated() {
            _ = m.event(.launched(token: token, instance(9001 + i)), now: at(1))
            _ = m.event(.healthy(instance(9001 + i).address), now: at(2))
        }
        _ = m.event(.desired(count, reason: "hold"), now: at(10))
        return m
    }

    @Test func scaleUpGoesBusyReadyUpThenIdle() {
        var m = machine()
        #expect(m.state == .idle)
        let start = m.event(.desired(1, reason: "min 1"), now: at(0))
        #expect(launchTokens(start).count == 1)
        #expect(records(start) == [ScalingTransition(from: 0, to: 1, state: .busy, reason: "min 1")])
        #expect(m.state == .busy)
        #expect(m.activeCount == 1)
        #expect(m.readyCount == 0)

        let a = instance(9001)
        let launched = m.event(.launched(token: launchTokens(start)[0], a), now: at(1))
        #expect(launched == [.addToPool(a), .waitHealthy(a)])
        #expect(m.state == .busy)  // no traffic yet: not READY before the health check

        let healthy = m.event(.healthy(a.address), now: at(2))
        #expect(records(healthy).map(\.state) == [.ready, .up])
        #expect(records(healthy)[0].from == 0 && records(healthy)[0].to == 1)
        #expect(m.readyCount == 1)
        #expect(m.state == .up)

        // Unchanged desired count: UP until cooldown-up has passed, then IDLE.
        #expect(m.event(.desired(1, reason: "hold"), now: at(4)).isEmpty)
        let idle = m.event(.desired(1, reason: "hold"), now: at(7))
        #expect(records(idle).map(\.state) == [.idle])
        #expect(m.state == .idle)
    }

    @Test func severalLaunchesAtOnceEachReadyInTurn() {
        var m = settled(1)
        let up = m.event(.desired(3, reason: "rate 130 rps"), now: at(20))
        let tokens = launchTokens(up)
        #expect(tokens.count == 2)
        #expect(records(up) == [ScalingTransition(from: 1, to: 3, state: .busy, reason: "rate 130 rps")])
        _ = m.event(.launched(token: tokens[0], instance(9002)), now: at(21))
        _ = m.event(.launched(token: tokens[1], instance(9003)), now: at(21))
        let first = m.event(.healthy(instance(9002).address), now: at(22))
        #expect(records(first).map(\.state) == [.ready])
        #expect(m.state == .ready)
        let second = m.event(.healthy(instance(9003).address), now: at(23))
        #expect(records(second).map(\.state) == [.ready, .up])
        #expect(records(second).last?.from == 1)
        #expect(records(second).last?.to == 3)
        #expect(m.readyCount == 3)
    }

    @Test func healthyOfAnUnknownOrReadyAddressIsIgnored() {
        var m = settled(1)
        #expect(m.event(.healthy(HostPort(host: "127.0.0.1", port: 1)), now: at(20)).isEmpty)
        #expect(m.event(.healthy(instance(9001).address), now: at(20)).isEmpty)
    }

    @Test func scaleDownDrainsTheNewestThenStops() {
        var m = settled(3)
        let down = m.event(.desired(2, reason: "rate 60 rps"), now: at(100))
        let newest = instance(9003)
        #expect(down.contains(.drain(newest, duration: .seconds(30))))
        #expect(!down.contains(.stop(newest)))  // in-flight work first
        #expect(records(down).map(\.state) == [.draining])
        #expect(records(down)[0].from == 3 && records(down)[0].to == 2)
        #expect(m.activeCount == 2)

        let drained = m.event(.drained(newest), now: at(130))
        #expect(drained.prefix(2) == [.removeFromPool(newest), .stop(newest)])
        #expect(records(drained).map(\.state) == [.busy])

        let stopped = m.event(.stopped(newest), now: at(131))
        #expect(records(stopped) == [ScalingTransition(from: 3, to: 2, state: .idle, reason: "stopped 127.0.0.1:9003")])
        #expect(m.instances.count == 2)
    }

    @Test func scaleDownBySeveralDrainsThemAll() {
        var m = settled(4)
        let down = m.event(.desired(1, reason: "quiet"), now: at(100))
        let drains = down.filter { if case .drain = $0 { true } else { false } }
        #expect(drains.count == 3)
        #expect(!down.contains(.drain(instance(9001), duration: .seconds(30))))
        for port in [9002, 9003, 9004] {
            _ = m.event(.drained(instance(port)), now: at(130))
        }
        #expect(m.state == .busy)
        _ = m.event(.stopped(instance(9002)), now: at(131))
        _ = m.event(.stopped(instance(9003)), now: at(131))
        #expect(m.state == .busy)
        let last = m.event(.stopped(instance(9004)), now: at(131))
        #expect(records(last) == [ScalingTransition(from: 4, to: 1, state: .idle, reason: "stopped 127.0.0.1:9004")])
    }

    @Test func noScaleDownWhileALaunchIsUnderWay() {
        var m = settled(1)
        let tokens = launchTokens(m.event(.desired(2, reason: "up"), now: at(20)))
        #expect(m.event(.desired(1, reason: "down"), now: at(21)).isEmpty)
        _ = m.event(.launched(token: tokens[0], instance(9002)), now: at(22))
        #expect(m.event(.desired(1, reason: "down"), now: at(23)).isEmpty)
        _ = m.event(.healthy(instance(9002).address), now: at(24))
        let down = m.event(.desired(1, reason: "down"), now: at(25))
        #expect(down.contains(.drain(instance(9002), duration: .seconds(30))))
    }

    @Test func launchFailureIsAFailedTransitionRetriedWithBackoff() {
        var m = machine()
        let first = launchTokens(m.event(.desired(1, reason: "min"), now: at(0)))
        let failed = m.event(.launchFailed(token: first[0], error: "up.sh exited with status 2"), now: at(1))
        let row = records(failed)
        #expect(row.count == 1)
        #expect(row[0].failed)
        #expect(row[0].reason.contains("up.sh exited with status 2"))
        #expect(row[0].reason.contains("retry in 1"))
        #expect(alerts(failed).count == 1)
        #expect(m.activeCount == 0)

        // Backoff: 1 s, then 2 s, then 4 s, then capped at 8 s.
        #expect(launchTokens(m.event(.desired(1, reason: "min"), now: at(1.5))).isEmpty)
        var now = 2.0
        for expected in [2.0, 4.0, 8.0, 8.0] {
            let tokens = launchTokens(m.event(.desired(1, reason: "min"), now: at(now)))
            #expect(tokens.count == 1, "retry at \(now)")
            let fail = m.event(.launchFailed(token: tokens[0], error: "boom"), now: at(now))
            #expect(alerts(fail).count == 1)
            #expect(m.consecutiveLaunchFailures >= 2)
            #expect(launchTokens(m.event(.desired(1, reason: "min"), now: at(now + expected - 0.1))).isEmpty)
            now += expected
        }
        // Success resets the backoff.
        let tokens = launchTokens(m.event(.desired(1, reason: "min"), now: at(now)))
        _ = m.event(.launched(token: tokens[0], instance(9001)), now: at(now))
        _ = m.event(.healthy(instance(9001).address), now: at(now + 1))
        #expect(m.consecutiveLaunchFailures == 0)
        #expect(m.state == .up)
    }

    @Test func backoffIsCancelledWhenTheDesiredCountFalls() {
        var m = settled(1)
        let tokens = launchTokens(m.event(.desired(2, reason: "up"), now: at(20)))
        _ = m.event(.launchFailed(token: tokens[0], error: "x"), now: at(21))
        #expect(m.event(.desired(1, reason: "quiet"), now: at(21.5)).isEmpty)
        // Wanted again later: no stale backoff in the way.
        #expect(launchTokens(m.event(.desired(2, reason: "up"), now: at(21.6))).count == 1)
    }

    @Test func instanceNeverHealthyIsStoppedAndCountsAsAFailure() {
        var m = machine(startTimeout: 60)
        let tokens = launchTokens(m.event(.desired(1, reason: "min"), now: at(0)))
        let a = instance(9001)
        _ = m.event(.launched(token: tokens[0], a), now: at(1))
        #expect(m.event(.desired(1, reason: "min"), now: at(60)).isEmpty)
        let timedOut = m.event(.desired(1, reason: "min"), now: at(61))
        #expect(timedOut.contains(.removeFromPool(a)))
        #expect(timedOut.contains(.stop(a)))
        #expect(records(timedOut).first?.failed == true)
        #expect(alerts(timedOut).count == 1)
        #expect(m.activeCount == 0)
        // Back off 1 s before the next launch.
        #expect(launchTokens(m.event(.desired(1, reason: "min"), now: at(61.5))).isEmpty)
        #expect(launchTokens(m.event(.desired(1, reason: "min"), now: at(62))).count == 1)
    }

    @Test func stopFailureIsRetriedWithBackoff() {
        var m = settled(2)
        let b = instance(9002)
        _ = m.event(.desired(1, reason: "quiet"), now: at(100))
        _ = m.event(.drained(b), now: at(130))
        let failed = m.event(.stopFailed(b, error: "down.sh exited with status 1"), now: at(131))
        #expect(records(failed).first?.failed == true)
        #expect(alerts(failed).count == 1)
        #expect(!m.event(.desired(1, reason: "quiet"), now: at(131.5)).contains(.stop(b)))
        #expect(m.event(.desired(1, reason: "quiet"), now: at(132)).contains(.stop(b)))
        let again = m.event(.stopFailed(b, error: "still"), now: at(132))
        #expect(records(again).first?.reason.contains("retry in 2") == true)
        #expect(!m.event(.desired(1, reason: "quiet"), now: at(133.9)).contains(.stop(b)))
        #expect(m.event(.desired(1, reason: "quiet"), now: at(134)).contains(.stop(b)))
        let done = m.event(.stopped(b), now: at(135))
        #expect(records(done).map(\.state) == [.idle])
    }

    @Test func exitOnItsOwnLeavesThePoolAndIsReplaced() {
        var m = settled(2)
        let a = instance(9001)
        let exit = m.event(.exited(a, status: "exit 70"), now: at(50))
        #expect(exit.contains(.removeFromPool(a)))
        #expect(records(exit) == [ScalingTransition(from: 2, to: 1, state: .up, reason: "127.0.0.1:9001 exited on its own (exit 70)", failed: true)])
        #expect(m.activeCount == 1)
        // The policy still wants 2: one launch replaces it.
        #expect(launchTokens(m.event(.desired(2, reason: "min 2"), now: at(51))).count == 1)
    }

    @Test func exitWhileStartingBacksOff() {
        var m = machine()
        let tokens = launchTokens(m.event(.desired(1, reason: "min"), now: at(0)))
        let a = instance(9001)
        _ = m.event(.launched(token: tokens[0], a), now: at(1))
        let exit = m.event(.exited(a, status: "exit 1"), now: at(2))
        #expect(alerts(exit).count == 1)
        #expect(launchTokens(m.event(.desired(1, reason: "min"), now: at(2.5))).isEmpty)
        #expect(launchTokens(m.event(.desired(1, reason: "min"), now: at(3))).count == 1)
    }

    @Test func exitWhileDrainingCompletesTheScaleDown() {
        var m = settled(2)
        let b = instance(9002)
        _ = m.event(.desired(1, reason: "quiet"), now: at(100))
        let exit = m.event(.exited(b, status: "signal 15"), now: at(101))
        #expect(exit.contains(.removeFromPool(b)))
        #expect(records(exit).map(\.state) == [.idle])
        #expect(m.event(.drained(b), now: at(130)).isEmpty)
    }

    @Test func lateLaunchIsStoppedNotLeaked() {
        var m = machine()
        let a = instance(9001)
        #expect(m.event(.launched(token: 99, a), now: at(0)) == [.stop(a)])
    }

    @Test func adoptedInstancesWaitForTheirHealthCheck() {
        var m = machine()
        let a = instance(9001), b = instance(9002)
        let adopt = m.event(.adopted([a, b]), now: at(0))
        #expect(adopt.filter { if case .addToPool = $0 { true } else { false } }.count == 2)
        #expect(records(adopt).map(\.state) == [.busy])
        #expect(m.activeCount == 2)
        #expect(m.event(.desired(2, reason: "hold"), now: at(1)).isEmpty)
        _ = m.event(.healthy(a.address), now: at(2))
        let both = m.event(.healthy(b.address), now: at(2))
        #expect(records(both).map(\.state) == [.ready, .up])
        #expect(records(both).last?.from == 0 && records(both).last?.to == 2)
    }
}
