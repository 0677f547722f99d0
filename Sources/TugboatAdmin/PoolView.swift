import Hummingbird
import TugboatCore
import TugboatProxy

/// `GET /api/pool` body: `{"backends":[{"address","state","inflight","requests"}],"rps"}`.
struct PoolView: ResponseEncodable, Sendable {
    struct Backend: Codable, Sendable {
        var address: String
        var state: BackendState
        var reason: String
        var inflight: Int
        var requests: UInt64
        var rps: Double
    }

    var backends: [Backend]
    var rps: Double

    init(snapshot: PoolSnapshot, stats: TrafficStats, inflight: [HostPort: Int]) {
        var requests: [HostPort: UInt64] = [:]
        for row in stats.rows { if let backend = row.backend { requests[backend] = row.requests } }
        backends = snapshot.backends.map { info in
            Backend(address: info.address.description, state: info.state, reason: info.reason,
                    inflight: inflight[info.address] ?? 0, requests: requests[info.address] ?? 0,
                    rps: stats.rpsByBackend[info.address] ?? 0)
        }
        rps = stats.rps
    }
}
