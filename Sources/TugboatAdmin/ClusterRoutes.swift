import Hummingbird
import TugboatCore

/// What the admin API asks of the cluster (several nodes sharing one pool through Redis).
package protocol ClusterAdministration: Sendable {
    /// `GET /api/cluster`: `{"mode":"cluster","node","leader","epoch","redis"}`.
    func statusJSON() -> String
    /// This node's view for /metrics: leader or not, Redis reachable or not, the lease epoch.
    var metricsStatus: (leader: Bool, redisUp: Bool, epoch: UInt64) { get }
    /// Adds a static backend for the whole cluster; false when it is already in the registry.
    func addBackend(_ address: HostPort) async throws -> Bool
    /// Drains and removes a backend on every node; false when it is not in the registry.
    func removeBackend(_ address: HostPort) async throws -> Bool
}

extension AdminServer {
    static func addClusterRoutes(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        group.get("/api/cluster") { _, _ -> Response in
            guard let cluster = state.cluster else {
                return try Response.json(["mode": "single"])  // this node runs alone (state is not redis://)
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: cluster.statusJSON())))
        }
    }
}
