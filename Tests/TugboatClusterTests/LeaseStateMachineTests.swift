import Testing

@testable import TugboatCluster

/// A hand-driven clock: the state machine sees only what the test says the time is.
struct TestInstant: InstantProtocol {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: self.offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - self.offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

func at(_ milliseconds: Int) -> TestInstant { TestInstant(offset: .milliseconds(milliseconds)) }

@Suite("LeaseStateMachine (pure)")
struct LeaseStateMachineTests {
    typealias Machine = LeaseStateMachine<TestInstant>
    let timing = LeaseTiming()  // ttl 3 s, margin 500 ms: interval 1 s, step down after 2.5 s

    /// A machine that won the lease with an acquire sent at time 0.
    func leader(epoch: UInt64 = 1) -> Machine {
        var machine = Machine(timing: self.timing, now: .zero)
        _ = machine.event(.tick, now: .zero)
        _ = machine.event(.acquired(epoch: epoch, sentAt: .zero), now: at(5))
        return machine
    }

    @Test("defaults: ttl 3 s, attempts every ttl/3, local step-down after ttl - margin")
    func defaults() {
        #expect(self.timing.ttl == .seconds(3))
        #expect(self.timing.interval == .seconds(1))
        #expect(self.timing.stepDownAfter == .milliseconds(2500))
    }

    @Test("a follower acquires at once, one request at a time, and again every ttl/3 while refused")
    func acquire() {
        var machine = Machine(timing: self.timing, now: .zero)
        #expect(machine.event(.tick, now: .zero) == [.acquire])
        #expect(machine.event(.tick, now: at(500)) == [])
        #expect(machine.event(.tick, now: at(1500)) == [], "still in flight")
        #expect(machine.event(.acquireRefused, now: at(1600)) == [])
        #expect(machine.event(.tick, now: at(1700)) == [.acquire], "the interval passed while in flight")
        #expect(machine.event(.requestFailed("down"), now: at(1710)) == [])
        #expect(machine.event(.tick, now: at(2000)) == [])
        #expect(machine.event(.tick, now: at(2700)) == [.acquire])
        #expect(machine.event(.acquired(epoch: 7, sentAt: at(2700)), now: at(2710)) == [.elected(epoch: 7)])
        #expect(machine.leaderEpoch == 7)
    }

    @Test("a leader renews every ttl/3 from the last send and stays leader while renewals succeed")
    func renew() {
        var machine = self.leader()
        #expect(machine.event(.tick, now: at(999)) == [])
        #expect(machine.event(.tick, now: at(1000)) == [.renew(epoch: 1)])
        #expect(machine.event(.renewed(sentAt: at(1000)), now: at(1010)) == [])
        for second in 2...20 {
            #expect(machine.event(.tick, now: at(second * 1000)) == [.renew(epoch: 1)])
            #expect(machine.event(.renewed(sentAt: at(second * 1000)), now: at(second * 1000 + 30)) == [])
        }
        #expect(machine.leaderEpoch == 1)
    }

    @Test("failed renewals (Redis errors) step down locally after ttl - margin, before the key can expire")
    func failedRenewalsStepDown() {
        var machine = self.leader()
        #expect(machine.event(.tick, now: at(1000)) == [.renew(epoch: 1)])
        #expect(machine.event(.requestFailed("Redis is not connected"), now: at(1001)) == [], "one error is not enough")
        #expect(machine.event(.tick, now: at(2001)) == [.renew(epoch: 1)])
        #expect(machine.event(.requestFailed("Redis is not connected"), now: at(2002)) == [])
        #expect(machine.event(.tick, now: at(2499)) == [])
        #expect(machine.leaderEpoch == 1)
        let actions = machine.event(.tick, now: at(2500))
        #expect(actions == [.steppedDown(.renewalOverdue(lastError: "Redis is not connected")), .release(epoch: 1)])
        #expect(machine.leaderEpoch == nil)
        // The key was set with a 3 s TTL at the earliest at time 0: it cannot have expired yet.
        #expect(at(2500) < TestInstant.zero.advanced(by: self.timing.ttl))
    }

    @Test("a renewal that never answers does not keep a leader leading")
    func hungRenewal() {
        var machine = self.leader()
        #expect(machine.event(.tick, now: at(1000)) == [.renew(epoch: 1)])
        #expect(machine.event(.tick, now: at(2000)) == [], "the renewal is still in flight")
        #expect(machine.event(.tick, now: at(2550)) == [.steppedDown(.renewalOverdue(lastError: nil)), .release(epoch: 1)])
        // Its late success changes nothing.
        #expect(machine.event(.renewed(sentAt: at(1000)), now: at(2600)) == [])
        #expect(machine.leaderEpoch == nil)
    }

    @Test("the lease gone in Redis: step down, then re-election in a higher term")
    func leaseLostThenReelected() {
        var machine = self.leader(epoch: 3)
        #expect(machine.event(.tick, now: at(1000)) == [.renew(epoch: 3)])
        #expect(machine.event(.renewRefused, now: at(1010)) == [.steppedDown(.leaseLost)])
        #expect(machine.event(.tick, now: at(1500)) == [])
        #expect(machine.event(.tick, now: at(2010)) == [.acquire])
        #expect(machine.event(.acquireRefused, now: at(2020)) == [])
        #expect(machine.event(.tick, now: at(3010)) == [.acquire])
        #expect(machine.event(.acquired(epoch: 5, sentAt: at(3010)), now: at(3020)) == [.elected(epoch: 5)])
        #expect(machine.event(.tick, now: at(4010)) == [.renew(epoch: 5)])
    }

    @Test("an acquire answered too late to lead safely is given back")
    func lateAcquire() {
        var machine = Machine(timing: self.timing, now: .zero)
        #expect(machine.event(.tick, now: .zero) == [.acquire])
        #expect(machine.event(.acquired(epoch: 2, sentAt: .zero), now: at(2600)) == [.release(epoch: 2)])
        #expect(machine.leaderEpoch == nil)
    }

    @Test("shutdown: a leader steps down and releases; nothing afterwards")
    func shutdown() {
        var machine = self.leader(epoch: 4)
        #expect(machine.event(.shutdown, now: at(100)) == [.steppedDown(.shutdown), .release(epoch: 4)])
        #expect(machine.isStopped)
        #expect(machine.event(.tick, now: at(5000)) == [])
        #expect(machine.event(.acquired(epoch: 9, sentAt: at(5000)), now: at(5001)) == [.release(epoch: 9)])

        var follower = Machine(timing: self.timing, now: .zero)
        #expect(follower.event(.shutdown, now: .zero) == [])
        #expect(follower.event(.tick, now: at(10)) == [])
    }
}
