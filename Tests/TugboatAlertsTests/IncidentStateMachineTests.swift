import Testing
import TugboatAlerts

@Suite("Incident state machine")
struct IncidentStateMachineTests {
    let t0 = ContinuousClock.now
    func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }

    @Test("fires exactly once however long the condition holds, resolves once when it clears")
    func pagesOnce() {
        var machine = IncidentStateMachine(policy: .init())
        #expect(machine.observe(active: true, at: at(0)) == [.fire])
        for ms in stride(from: 100, to: 60_000, by: 100) {
            #expect(machine.observe(active: true, at: at(ms)) == [])
            #expect(machine.tick(at: at(ms + 50)) == [])
        }
        #expect(machine.observe(active: false, at: at(60_000)) == [.resolve])
        #expect(machine.observe(active: false, at: at(60_100)) == [])
        #expect(machine.phase == .inactive)
    }

    @Test("a window restored from before a restart fires when its `for` ends, counted from its first start")
    func restoredPending() {
        // Pending 40 s of a 60 s `for` before the restart (at 0 on the new clock).
        var machine = IncidentStateMachine(policy: .init(pendingFor: .seconds(60)), restoringPendingSince: at(-40_000))
        #expect(machine.isPending)
        #expect(machine.observe(active: true, at: at(1_000)) == [])
        #expect(machine.tick(at: at(19_900)) == [])
        #expect(machine.tick(at: at(20_000)) == [.fire])
        // Cleared after the restart: nobody is paged.
        var cleared = IncidentStateMachine(policy: .init(pendingFor: .seconds(60)), restoringPendingSince: at(-40_000))
        #expect(cleared.observe(active: false, at: at(1_000)) == [])
        #expect(cleared.tick(at: at(30_000)) == [])
    }

    @Test("a blip shorter than `for` pages nobody; a longer one fires when `for` has passed")
    func pendingFor() {
        var machine = IncidentStateMachine(policy: .init(pendingFor: .seconds(2)))
        #expect(machine.observe(active: true, at: at(0)) == [])
        #expect(machine.tick(at: at(1_500)) == [])
        #expect(machine.observe(active: false, at: at(1_900)) == [])
        #expect(machine.tick(at: at(5_000)) == [])
        #expect(machine.observe(active: true, at: at(6_000)) == [])
        #expect(machine.tick(at: at(8_000)) == [.fire])
    }

    @Test("keep-firing-for holds a flapping incident open")
    func keepFiringFor() {
        var machine = IncidentStateMachine(policy: .init(keepFiringFor: .seconds(30)))
        _ = machine.observe(active: true, at: at(0))
        #expect(machine.observe(active: false, at: at(1_000)) == [])
        #expect(machine.observe(active: true, at: at(20_000)) == [])  // flapped back: still the same incident
        #expect(machine.observe(active: false, at: at(21_000)) == [])
        #expect(machine.tick(at: at(50_000)) == [])
        #expect(machine.tick(at: at(51_000)) == [.resolve])
    }

    @Test("an incident restored after a restart does not page again")
    func restored() {
        var machine = IncidentStateMachine(policy: .init(), restoringFiringAt: at(0))
        #expect(machine.observe(active: true, at: at(100)) == [])
        #expect(machine.observe(active: false, at: at(200)) == [.resolve])
    }

    @Test("a flapping incident held open resolves only after the quiet period")
    func holdOpen() {
        var machine = IncidentStateMachine(policy: .init(keepFiringFor: .seconds(5)))
        _ = machine.observe(active: true, at: at(0))
        machine.holdOpen(quietFor: .seconds(60))
        #expect(machine.observe(active: false, at: at(1_000)) == [])
        #expect(machine.tick(at: at(30_000)) == [])
        #expect(machine.tick(at: at(61_000)) == [.resolve])
    }
}
