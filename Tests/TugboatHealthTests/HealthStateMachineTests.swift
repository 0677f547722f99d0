import Testing
import TugboatCore
import TugboatHealth

@Suite("Health state machine")
struct HealthStateMachineTests {
    let settings = HealthStateMachine.Settings(rise: 2, fall: 3, ejection: .seconds(30), maxEjection: .seconds(300))
    let start = ContinuousClock.now

    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    @Test("starting becomes healthy after `rise` passes, unhealthy after `fall` failures, healthy again after `rise`")
    func riseAndFall() {
        var machine = HealthStateMachine(settings: settings)
        #expect(machine.state == .starting)
        #expect(machine.checkPassed(at: at(0)) == .none)
        #expect(machine.checkPassed(at: at(1)) == .transition(to: .healthy, reason: "2 health check(s) passed"))
        #expect(machine.checkFailed(at: at(2), reason: "HTTP 500") == .none)
        #expect(machine.checkFailed(at: at(3), reason: "HTTP 500") == .none)
        #expect(machine.checkPassed(at: at(4)) == .none)  // a pass resets the failure run
        #expect(machine.checkFailed(at: at(5), reason: "x") == .none)
        #expect(machine.checkFailed(at: at(6), reason: "x") == .none)
        #expect(machine.checkFailed(at: at(7), reason: "refused") == .transition(to: .unhealthy, reason: "3 health check(s) failed: refused"))
        #expect(machine.checkFailed(at: at(8), reason: "refused") == .none)
        #expect(machine.checkPassed(at: at(9)) == .none)
        #expect(machine.checkPassed(at: at(10)) == .transition(to: .healthy, reason: "2 health check(s) passed"))
    }

    @Test("a starting backend that never answers becomes unhealthy after `fall` failures")
    func startingToUnhealthy() {
        var machine = HealthStateMachine(settings: settings)
        _ = machine.checkFailed(at: at(0), reason: "x")
        _ = machine.checkFailed(at: at(1), reason: "x")
        #expect(machine.checkFailed(at: at(2), reason: "x") == .transition(to: .unhealthy, reason: "3 health check(s) failed: x"))
    }

    @Test("passive ejection lasts its time, doubles on each repeat up to the cap, and a pass after it restores")
    func ejection() {
        var machine = HealthStateMachine(settings: settings)
        _ = machine.checkPassed(at: at(0))
        _ = machine.checkPassed(at: at(0))
        #expect(machine.passiveFailures(5, at: at(10)) == .transition(to: .unhealthy, reason: "ejected for 30s after 5 failures on live traffic"))
        #expect(machine.checkPassed(at: at(20)) == .none)  // still ejected
        #expect(machine.checkPassed(at: at(40)) == .transition(to: .healthy, reason: "ejection over and health check passed"))
        #expect(machine.passiveFailures(5, at: at(50)) == .transition(to: .unhealthy, reason: "ejected for 1m after 5 failures on live traffic"))
        #expect(machine.checkPassed(at: at(100)) == .none)
        _ = machine.checkPassed(at: at(111))
        _ = machine.passiveFailures(5, at: at(120))  // 2m
        _ = machine.checkPassed(at: at(241))
        _ = machine.passiveFailures(5, at: at(250))  // 4m
        _ = machine.checkPassed(at: at(491))
        #expect(machine.passiveFailures(5, at: at(500)) == .transition(to: .unhealthy, reason: "ejected for 5m after 5 failures on live traffic"))
    }

    @Test("passive failures do nothing to a backend that is not healthy")
    func passiveIgnoredWhenNotHealthy() {
        var machine = HealthStateMachine(settings: settings)
        #expect(machine.passiveFailures(5, at: at(0)) == .none)
        #expect(machine.state == .starting)
    }

    @Test("a long healthy stretch forgives earlier ejections")
    func forgiveness() {
        var machine = HealthStateMachine(settings: settings)
        _ = machine.checkPassed(at: at(0)); _ = machine.checkPassed(at: at(0))
        _ = machine.passiveFailures(5, at: at(0))
        _ = machine.checkPassed(at: at(31))
        _ = machine.checkPassed(at: at(400))  // healthy for over maxEjection
        #expect(machine.passiveFailures(5, at: at(401)) == .transition(to: .unhealthy, reason: "ejected for 30s after 5 failures on live traffic"))
    }
}
