import NIOCore
import Testing
import TugboatCore
@testable import TugboatProxy

func makeBackend(_ port: Int, slot: Int) -> ProxyBackend {
    ProxyBackend(address: HostPort(host: "127.0.0.1", port: port),
                 socketAddress: try! SocketAddress(ipAddress: "127.0.0.1", port: port), slot: slot)
}

@Suite("Balancer")
struct BalancerTests {
    let backends = (0..<3).map { makeBackend(9000 + $0, slot: $0) }

    @Test("round robin visits every backend in turn")
    func roundRobin() {
        var balancer = Balancer(algorithm: .roundRobin)
        var counts: [Int: Int] = [:]
        for _ in 0..<300 { counts[balancer.pick(from: backends, excluding: [])!.slot, default: 0] += 1 }
        #expect(counts == [0: 100, 1: 100, 2: 100])
    }

    @Test("retries skip backends already tried, and give up when none is left")
    func exclusion() {
        var balancer = Balancer(algorithm: .roundRobin)
        for _ in 0..<20 {
            let pick = balancer.pick(from: backends, excluding: [backends[0], backends[2]])
            #expect(pick === backends[1])
        }
        #expect(balancer.pick(from: backends, excluding: [backends[0], backends[1], backends[2]]) == nil)
        #expect(balancer.pick(from: [], excluding: []) == nil)
    }

    @Test("least-request (power of two choices) avoids the busiest backend")
    func leastRequest() {
        var balancer = Balancer(algorithm: .leastRequest)
        backends[0].inflight.store(50, ordering: .relaxed)
        backends[1].inflight.store(1, ordering: .relaxed)
        backends[2].inflight.store(2, ordering: .relaxed)
        var counts: [Int: Int] = [:]
        for _ in 0..<1000 { counts[balancer.pick(from: backends, excluding: [])!.slot, default: 0] += 1 }
        #expect(counts[0] == nil)  // it always loses its pair
        #expect((counts[1] ?? 0) > (counts[2] ?? 0))
    }
}

@Suite("Traffic meter")
struct TrafficMeterTests {
    @Test("counts by status class and merges per-loop meters")
    func merge() {
        var a = TrafficMeter(), b = TrafficMeter()
        a.record(slot: 1, status: 200, micros: 1000)
        a.record(slot: 1, status: 503, micros: 2000)
        b.record(slot: 1, status: 404, micros: 500)
        b.record(slot: nil, status: 503, micros: 10)
        var merged = TrafficMeter()
        merged.merge(a.take())
        merged.merge(b.take())
        #expect(merged.rows[1].classes == [0, 1, 0, 1, 1])
        #expect(merged.local.classes == [0, 0, 0, 0, 1])
        #expect(merged.rows[1].latency.totalCount == 3)
        #expect(a.rows.isEmpty)  // take() resets
        let buckets = TrafficStats.buckets(of: merged.rows[1].latency)
        #expect(buckets.first { $0.le == 0.001 }?.count == 2)
        #expect(buckets.last?.count == 3)
    }
}
