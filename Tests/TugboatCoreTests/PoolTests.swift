import Logging
import Testing
import TugboatCore

@Suite("Pool membership and signals")
struct PoolTests {
    @Test("a pool is settled (a new process may take over traffic) once a backend is healthy or none is still starting")
    func settled() {
        func snapshot(_ states: [BackendState]) -> PoolSnapshot {
            PoolSnapshot(version: 1, backends: states.enumerated().map { BackendInfo(address: HostPort(host: "127.0.0.1", port: 9000 + $0.offset), state: $0.element) })
        }
        #expect(snapshot([]).isSettled)
        #expect(!snapshot([.starting, .starting]).isSettled)
        #expect(snapshot([.starting, .healthy]).isSettled)
        #expect(!snapshot([.starting, .unhealthy]).isSettled)
        #expect(snapshot([.unhealthy, .unhealthy]).isSettled)
        #expect(snapshot([.draining]).isSettled)
    }

    @Test("state changes publish snapshots and signals; draining is final")
    func transitions() async throws {
        let bus = SignalBus()
        let stream = bus.subscribe()
        let pool = Pool(signals: bus, logger: Logger(label: "test"))
        let seen = SnapshotRecorder()
        await pool.observe { seen.record($0) }
        let address = HostPort(host: "127.0.0.1", port: 9001)
        #expect(await pool.add(address))
        #expect(await !pool.add(address))
        await pool.setState(address, .healthy, reason: "checks passed")
        await pool.setState(address, .healthy, reason: "again")  // no change, no signal
        await pool.setState(address, .draining, reason: "removed")
        await pool.setState(address, .healthy, reason: "late check")  // ignored while draining
        #expect(await pool.state(of: address) == .draining)
        #expect(seen.states == [[], [.starting], [.healthy], [.draining]])

        var signals: [Signal] = []
        for await signal in stream {
            signals.append(signal)
            if signals.count == 3 { break }
        }
        #expect(signals == [
            .backendAdded(address),
            .backendStateChanged(address: address, from: .starting, to: .healthy, reason: "checks passed"),
            .backendStateChanged(address: address, from: .healthy, to: .draining, reason: "removed"),
        ])
    }

    @Test("a draining backend added again starts over (a reload listed it again); only a draining one can be taken back")
    func cancelDrain() async throws {
        let pool = Pool(signals: SignalBus(), logger: Logger(label: "test"))
        let seen = SnapshotRecorder()
        await pool.observe { seen.record($0) }
        let address = HostPort(host: "127.0.0.1", port: 9001)
        await pool.add(address)
        #expect(await !pool.cancelDrain(address, reason: "not draining"))
        await pool.setState(address, .draining, reason: "removed")
        #expect(await pool.cancelDrain(address, reason: "listed again"))
        #expect(await pool.state(of: address) == .starting)
        await pool.setState(address, .healthy, reason: "checks passed")  // health results move it again
        #expect(seen.states == [[], [.starting], [.draining], [.starting], [.healthy]])
        #expect(await !pool.cancelDrain(HostPort(host: "127.0.0.1", port: 1), reason: "unknown"))
    }
}

final class SnapshotRecorder: @unchecked Sendable {
    private var snapshots: [PoolSnapshot] = []
    func record(_ snapshot: PoolSnapshot) { snapshots.append(snapshot) }
    var states: [[BackendState]] { snapshots.map { $0.backends.map(\.state) } }
}
