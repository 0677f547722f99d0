import Foundation
import Testing
import TugboatCluster
import TugboatCore
import TugboatRuntime
import TugboatScaling

private func address(_ port: Int) -> HostPort { HostPort(host: "127.0.0.1", port: port) }

private let now = Date(timeIntervalSince1970: 1_738_324_800)

private func entry(_ state: BackendState = .healthy, origin: RegistryEntry.Origin = .admin, provider: String = "") -> RegistryEntry {
    RegistryEntry(state: state, providerID: provider, since: now, origin: origin)
}

private func reconciler(static backends: [Int] = [], scaler: Bool = true, adopts: Bool = true) -> RegistryReconciler {
    RegistryReconciler(staticBackends: Set(backends.map(address)), hasScaler: scaler, adoptsInstances: adopts)
}

@Suite("RegistryReconciler (pure): the registry and this node's pool")
struct RegistryReconcilerTests {
    @Test("an address the registry lists is added once; the pool holding it is enough the next time")
    func addsOnce() {
        var machine = reconciler()
        let registry = [address(9001): entry()]
        #expect(machine.reconcile(registry: registry, pool: []) == [.add(address(9001))])
        #expect(machine.reconcile(registry: registry, pool: [address(9001)]) == [])
        #expect(machine.fromRegistry == [address(9001)])
    }

    @Test("an entry marked draining is drained here when the pool holds it, and never added")
    func draining() {
        var machine = reconciler()
        #expect(machine.reconcile(registry: [address(9001): entry(.draining)], pool: [address(9001)]) == [.drainAndRemove(address(9001))])
        #expect(machine.reconcile(registry: [address(9002): entry(.draining)], pool: []) == [])
    }

    @Test("an address taken from the registry that leaves it is drained and forgotten; one added here is not touched")
    func leavesRegistry() {
        var machine = reconciler()
        _ = machine.reconcile(registry: [address(9001): entry()], pool: [])
        #expect(machine.reconcile(registry: [:], pool: [address(9001), address(9005)]) == [.drainAndRemove(address(9001))])
        #expect(machine.fromRegistry.isEmpty)
        #expect(machine.reconcile(registry: [:], pool: [address(9001), address(9005)]) == [], "forgotten: not drained twice")
    }

    @Test("static backends are left alone whatever the registry says of them")
    func staticBackends() {
        var machine = reconciler(static: [9001])
        #expect(machine.reconcile(registry: [address(9001): entry(.draining)], pool: [address(9001)]) == [])
        #expect(machine.reconcile(registry: [address(9001): entry()], pool: []) == [])
        #expect(machine.reconcile(registry: [:], pool: [address(9001)]) == [])
    }

    @Test("several changes at once come in address order")
    func ordered() {
        var machine = reconciler()
        _ = machine.reconcile(registry: [address(9003): entry()], pool: [])
        let actions = machine.reconcile(registry: [address(9002): entry(), address(9001): entry(.draining)],
                                        pool: [address(9001), address(9003)])
        #expect(actions == [.drainAndRemove(address(9001)), .add(address(9002)), .drainAndRemove(address(9003))])
    }

    @Test("the leader publishes its scaler's instances: added as starting, their states, their removal")
    func leaderPublishes() {
        var machine = reconciler(static: [9001])
        let instance = address(9100)
        #expect(machine.publish(.backendAdded(instance), isLeader: true, now: now)
                == .upsert(instance, entry(.starting, origin: .scaler)))
        #expect(machine.own == [instance])
        #expect(machine.publish(.backendStateChanged(address: instance, from: .starting, to: .healthy, reason: "up"), isLeader: true, now: now)
                == .upsert(instance, entry(.healthy, origin: .scaler)))
        #expect(machine.publish(.backendRemoved(instance), isLeader: true, now: now) == .remove(instance))
        #expect(machine.own.isEmpty)
        #expect(machine.publish(.backendRemoved(instance), isLeader: true, now: now) == nil, "removed once")
    }

    @Test("nothing is published by a follower, for a static backend, for one taken from the registry, or without a scaler")
    func notPublished() {
        var follower = reconciler()
        #expect(follower.publish(.backendAdded(address(9100)), isLeader: false, now: now) == nil)
        #expect(follower.own.isEmpty)

        var leader = reconciler(static: [9001])
        #expect(leader.publish(.backendAdded(address(9001)), isLeader: true, now: now) == nil)
        _ = leader.reconcile(registry: [address(9002): entry()], pool: [])
        #expect(leader.publish(.backendAdded(address(9002)), isLeader: true, now: now) == nil)
        #expect(leader.publish(.backendStateChanged(address: address(9002), from: .starting, to: .healthy, reason: ""),
                               isLeader: true, now: now) == nil)
        #expect(leader.publish(.backendRemoved(address(9002)), isLeader: true, now: now) == nil)

        var noScaler = reconciler(scaler: false)
        #expect(noScaler.publish(.backendAdded(address(9100)), isLeader: true, now: now) == nil)
    }

    @Test("the node's own instances listed in the registry are not added again")
    func ownNotAdded() {
        var machine = reconciler()
        _ = machine.publish(.backendAdded(address(9100)), isLeader: true, now: now)
        #expect(machine.reconcile(registry: [address(9100): entry(.starting, origin: .scaler)], pool: []) == [])
    }

    @Test("a new leader adopts the former leader's live scaler instances (provider id, else the address)")
    func adopts() {
        var machine = reconciler()
        let registry = [
            address(9100): entry(origin: .scaler, provider: "c0ffee"),
            address(9101): entry(.starting, origin: .scaler),
            address(9102): entry(.draining, origin: .scaler, provider: "gone"),
            address(9001): entry(origin: .admin),
        ]
        #expect(machine.adopt(registry: registry) == [
            ScalingInstance(providerID: "c0ffee", address: address(9100)),
            ScalingInstance(providerID: "127.0.0.1:9101", address: address(9101)),
        ])
        #expect(machine.own == [address(9100), address(9101)])
        var processes = reconciler(adopts: false)
        #expect(processes.adopt(registry: registry) == [], "process instances died with their node")
        #expect(processes.own.isEmpty)
    }

    @Test("on election the leader publishes what its scaler runs and removes scaler entries nobody runs")
    func elected() {
        var machine = reconciler(static: [9001])
        _ = machine.reconcile(registry: [address(9002): entry()], pool: [])
        let pool = [BackendInfo(address: address(9001), state: .healthy), BackendInfo(address: address(9002), state: .healthy),
                    BackendInfo(address: address(9100), state: .unhealthy)]
        let registry = [address(9002): entry(), address(9100): entry(origin: .scaler), address(9200): entry(origin: .scaler),
                        address(9300): entry(origin: .admin)]
        #expect(machine.elected(pool: pool, registry: registry, now: now) == [
            .upsert(address(9100), entry(.unhealthy, origin: .scaler)),
            .remove(address(9200)),
        ])
        #expect(machine.own == [address(9100)])
    }

    @Test("adopted instances are kept on election though this node's pool does not hold them yet")
    func adoptedSurviveElection() {
        var machine = reconciler()
        let registry = [address(9100): entry(origin: .scaler, provider: "c0ffee")]
        _ = machine.adopt(registry: registry)
        #expect(machine.elected(pool: [], registry: registry, now: now) == [])
    }
}
