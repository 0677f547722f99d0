import Logging
import Synchronization
import Testing
import TestSupport
import TugboatCore

/// The in-flight requests the data plane would report.
final class Inflight: Sendable {
    let counts = Mutex<[HostPort: Int]>([:])
    /// How often the membership asked.
    let asked = Atomic<Int>(0)

    func read() -> [HostPort: Int] {
        asked.add(1, ordering: .relaxed)
        return counts.withLock { $0 }
    }
}

/// The changes the membership asked to persist (`true`: added).
private final class Changes: Sendable {
    let added = Mutex<[Bool]>([])
}

@Suite("Pool membership: adding, draining and removing backends at run time")
struct PoolMembershipTests {
    let a = HostPort(host: "127.0.0.1", port: 9001)

    /// A pool with `a` healthy and `requests` in flight to it, and a membership running its drains.
    func running(requests: Int, onChange: @escaping @Sendable (HostPort, Bool) async -> Void = { _, _ in })
        async -> (pool: Pool, inflight: Inflight, membership: PoolMembership, drains: Task<Void, Never>) {
        let pool = Pool(signals: SignalBus(), logger: Logger(label: "t"))
        _ = await pool.add(a, state: .healthy)
        let inflight = Inflight()
        inflight.counts.withLock { [a] in $0[a] = requests }
        let membership = PoolMembership(pool: pool, drain: .seconds(30), logger: Logger(label: "t"),
                                        inflight: { inflight.read() }, onChange: onChange)
        return (pool, inflight, membership, Task { await membership.runDrains() })
    }

    @Test("a drained backend takes no new requests at once and leaves the pool when its last request is done; the change is persisted once")
    func drainsThenRemoves() async throws {
        let changes = Changes()
        let (pool, inflight, membership, drains) = await running(requests: 2) { _, added in changes.added.withLock { $0.append(added) } }
        #expect(await membership.drainAndRemove(a) == .done)
        #expect(await pool.state(of: a) == .draining)
        #expect(await membership.drainAndRemove(a) == .done, "asked again while draining: still one drain")
        try await waitUntil("the drain asked three times") { inflight.asked.load(ordering: .relaxed) >= 3 }
        #expect(await pool.state(of: a) == .draining, "left the pool with a request in flight")
        inflight.counts.withLock { $0[a] = 0 }
        try await waitUntil("the idle backend removed") { await pool.state(of: a) == nil }
        #expect(changes.added.withLock { $0 } == [false])
        #expect(await membership.drainAndRemove(a) == .unknown)
        membership.stopTakingDrains()
        await drains.value
    }

    @Test("a backend added again while it drains is taken back and stays once the drain would have ended")
    func takenBackWhileDraining() async throws {
        let (pool, inflight, membership, drains) = await running(requests: 1)
        _ = await membership.drainAndRemove(a, persist: false)
        #expect(await membership.add(a, persist: false) == .done)
        #expect(await pool.state(of: a) != .draining)
        inflight.counts.withLock { $0[a] = 0 }
        membership.stopTakingDrains()
        await drains.value  // the drain under way has finished
        #expect(await pool.state(of: a) != nil, "removed although it was added back")
        #expect(await membership.add(a) == .alreadyPresent)
    }
}
