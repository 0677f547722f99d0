import AsyncHTTPClient
import Foundation
import TestSupport
import NIOCore

/// The `tugboat-contract` binary (built beside the test bundle) on a free port of 127.0.0.1, with
/// the PagerDuty and Opsgenie keys given here.
final class ContractTestServer: @unchecked Sendable {
    static let pagerDutyKey = "pd-routing-key-for-tests"
    static let opsgenieKey = "og-genie-key-for-tests"

    let port: Int
    let client: HTTPClient
    private let child: ChildProcess
    var base: String { "http://127.0.0.1:\(port)" }

    init(client: HTTPClient) async throws {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let binary = me.deletingLastPathComponent().appendingPathComponent("tugboat-contract").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw LiveTestError("\(binary) is missing: swift build first") }
        child = try ChildProcess(executable: binary, arguments: ["--port", "0", "--pagerduty-key", Self.pagerDutyKey, "--opsgenie-key", Self.opsgenieKey],
                             holdingStdin: true)
        port = try await child.listeningPort()
        self.client = client
    }

    /// Every request the server saw, in order (`kind`, `status`, `fields`, `body`).
    func requests() async throws -> [[String: Any]] {
        let response = try await client.execute(HTTPClientRequest(url: "\(base)/_contract/requests"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [[String: Any]] ?? []
    }

    /// The next `count` API calls fail with `mode` (500, 429, 400, 401, 422, timeout); with `path`
    /// (`/hook`, `/slack`) only posts to that sink fail (500, 429, 503, timeout). A 429 or 503
    /// carries `Retry-After: retryAfter` when given.
    func fail(_ mode: String, count: Int = 1, path: String? = nil, retryAfter: String? = nil) async throws {
        var request = HTTPClientRequest(url: "\(base)/_contract/fail")
        request.method = .POST
        var object: [String: Any] = ["mode": mode, "count": count]
        object["path"] = path
        object["retry-after"] = retryAfter
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: object)))
        _ = try await client.execute(request, timeout: .seconds(5))
    }

    func stop() { child.stop() }
}
