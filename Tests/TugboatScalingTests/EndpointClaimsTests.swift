import Testing
import TugboatCore
@testable import TugboatScaling

/// Which endpoints the scaler has been handed (pure).
struct EndpointClaimsTests {
    func endpoint(_ name: String, _ port: Int, ready: Bool = true, terminating: Bool = false) -> ServiceEndpoint {
        ServiceEndpoint(name: name, address: HostPort(host: "127.0.0.1", port: port), ready: ready, serving: ready, terminating: terminating)
    }

    @Test("a launch waits for the next ready endpoint; not-ready ones are not handed out")
    func waitForReady() {
        var claims = EndpointClaims()
        _ = claims.update([endpoint("a", 1)])
        #expect(claims.takeAll().map(\.providerID) == ["a"])
        #expect(claims.take(waiter: 1) == nil)
        #expect(claims.launchTarget == 2)
        #expect(claims.update([endpoint("a", 1), endpoint("b", 2, ready: false)]).granted.isEmpty)
        let ready = claims.update([endpoint("a", 1), endpoint("b", 2)])
        #expect(ready.granted.map(\.waiter) == [1])
        #expect(ready.granted.map(\.instance.providerID) == ["b"])
    }

    @Test("an endpoint handed out that turns terminating, vanishes or moves is leaving, once")
    func leaving() {
        var claims = EndpointClaims()
        _ = claims.update([endpoint("a", 1), endpoint("b", 2), endpoint("c", 3)])
        _ = claims.takeAll()
        let next = claims.update([endpoint("a", 1, ready: false, terminating: true), endpoint("c", 4)])
        #expect(next.leaving.map(\.providerID) == ["a", "b", "c"])
        #expect(claims.update([endpoint("a", 1, ready: false, terminating: true)]).leaving.isEmpty)
    }

    @Test("one given up on while still serving is not handed out again, and Kubernetes still counts it")
    func rejected() {
        var claims = EndpointClaims()
        _ = claims.update([endpoint("a", 1)])
        let a = claims.takeAll()[0]
        let released = claims.release(a)
        #expect(released)
        let taken = claims.take(waiter: 1)
        #expect(taken == nil)
        #expect(claims.launchTarget == 2)
        let again = claims.release(a)
        #expect(!again, "twice is a no-op")
    }

    @Test("once adopting, each endpoint nobody waits for arrives once; a waiting launch is served first")
    func followArrivals() {
        var claims = EndpointClaims()
        _ = claims.update([endpoint("a", 1)])
        #expect(claims.takeAll().map(\.providerID) == ["a"])
        // The leader's scale step 1 → 3 seen by a follower: both new endpoints arrive, once.
        let step = claims.follow([endpoint("a", 1), endpoint("b", 2), endpoint("c", 3, ready: false)])
        #expect(step.arrived.map(\.providerID) == ["b"])
        #expect(claims.follow([endpoint("a", 1), endpoint("b", 2), endpoint("c", 3)]).arrived.map(\.providerID) == ["c"])
        #expect(claims.follow([endpoint("a", 1), endpoint("b", 2), endpoint("c", 3)]).arrived.isEmpty)
        // This node's own launch waits: the next endpoint is its, not an arrival.
        #expect(claims.take(waiter: 7) == nil)
        let own = claims.follow([endpoint("a", 1), endpoint("b", 2), endpoint("c", 3), endpoint("d", 4)])
        #expect(own.granted.map(\.waiter) == [7])
        #expect(own.granted.map(\.instance.providerID) == ["d"])
        #expect(own.arrived.isEmpty)
        // Scale-down: the terminating and the vanished leave; nothing arrives.
        let down = claims.follow([endpoint("a", 1), endpoint("b", 2, ready: false, terminating: true)])
        #expect(down.leaving.map(\.providerID) == ["b", "c", "d"])
        #expect(down.arrived.isEmpty)
    }

    @Test("an endpoint given up on is not adopted again as an arrival")
    func rejectedDoesNotArrive() {
        var claims = EndpointClaims()
        _ = claims.update([endpoint("a", 1)])
        let a = claims.takeAll()[0]
        _ = claims.release(a)
        #expect(claims.follow([endpoint("a", 1), endpoint("b", 2)]).arrived.map(\.providerID) == ["b"])
    }

    @Test("discovery adds endpoints that take traffic and removes those terminating or gone")
    func discoveryChanges() {
        let before: Set<HostPort> = [HostPort(host: "127.0.0.1", port: 1), HostPort(host: "127.0.0.1", port: 2)]
        let change = KubernetesDiscovery.changes(from: before, to: [
            endpoint("a", 1), endpoint("b", 2, ready: false, terminating: true), endpoint("c", 3), endpoint("d", 4, ready: false),
        ])
        #expect(change.add == [HostPort(host: "127.0.0.1", port: 3)])
        #expect(change.remove == [HostPort(host: "127.0.0.1", port: 2)])
        #expect(change.serving.count == 2)
    }
}
