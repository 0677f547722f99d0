import Foundation

/// The `tugboat-kube-contract` Kubernetes API stand-in, as a child process on a free port, with a
/// kubeconfig pointing at it. Its pods are `tugboat demo-app` processes on a random block of ports.
/// With `tls` it serves the API over HTTPS and requires a client certificate signed by `clientCA`;
/// the control API (and the token's way in) stays plain HTTP on `controlPort`.
final class KubeContractServer: @unchecked Sendable {
    static let token = "kube-contract-secret-token"
    let child: ChildProcess
    /// The API's port (HTTPS with `tls`).
    let port: Int
    /// Plain HTTP: the control API and the token's way in (the API port without `tls`).
    let controlPort: Int
    let kubeconfigPath: String
    private var kubeconfigs: [String] = []

    struct TLSFiles {
        var certificate: String
        var key: String
        var clientCA: String
    }

    init(replicas: Int = 1, readyDelayMs: Int = 500, terminateDelayMs: Int = 1500, bookmarkMs: Int = 300, tls: TLSFiles? = nil) throws {
        let binary = URL(fileURLWithPath: tugboatExecutable).deletingLastPathComponent().appendingPathComponent("tugboat-kube-contract").path
        let base = 30_000 + Int.random(in: 0..<400) * 50
        child = try ChildProcess(executable: binary, arguments: [
            "--port", "0", "--token", Self.token, "--replicas", String(replicas),
            "--pod-command", "\(tugboatExecutable) demo-app --port {port}", "--ports", "\(base)-\(base + 49)",
            "--ready-delay-ms", String(readyDelayMs), "--terminate-delay-ms", String(terminateDelayMs), "--bookmark-ms", String(bookmarkMs),
        ] + (tls.map { ["--tls-cert", $0.certificate, "--tls-key", $0.key, "--client-ca", $0.clientCA] } ?? []))
        let apiPort = try Self.listening(child, "server")
        port = apiPort
        controlPort = try tls == nil ? apiPort : Self.listening(child, "control")
        kubeconfigPath = NSTemporaryDirectory() + "kubeconfig-\(UUID().uuidString).yaml"
        try """
        apiVersion: v1
        kind: Config
        current-context: contract
        contexts: [{ name: contract, context: { cluster: contract, user: tugboat, namespace: default } }]
        clusters: [{ name: contract, cluster: { server: "http://127.0.0.1:\(controlPort)" } }]
        users: [{ name: tugboat, user: { token: \(Self.token) } }]
        """.write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
    }

    private static func listening(_ child: ChildProcess, _ listener: String) throws -> Int {
        let line = try child.waitForLine { $0.contains("kube contract \(listener) listening on") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else { throw TestFailure("no port in \(line)") }
        return port
    }

    /// A kubeconfig for `https://127.0.0.1:port` with these flow-style fields of the cluster and
    /// the user, written to `directory` (relative paths in it are relative to it). Removed with the server.
    func writeKubeconfig(cluster: String, user: String, directory: String = NSTemporaryDirectory()) throws -> String {
        let path = directory + "/kubeconfig-\(UUID().uuidString).yaml"
        try """
        apiVersion: v1
        kind: Config
        current-context: contract
        contexts: [{ name: contract, context: { cluster: contract, user: tugboat, namespace: default } }]
        clusters: [{ name: contract, cluster: { server: "https://127.0.0.1:\(port)", \(cluster) } }]
        users: [{ name: tugboat, user: { \(user) } }]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        kubeconfigs.append(path)
        return path
    }

    /// `scaling:` through this server's Deployment `web` and Service `web` (port name `http`), plus
    /// `settings`; `fields` are more keys of `scaling.provider.kubernetes`.
    func scalingYAML(_ settings: String, fields: String = "", kubeconfig: String? = nil) -> String {
        """
        scaling:
          provider: { kubernetes: { namespace: default, deployment: web, service: web, port: http, kubeconfig: \(kubeconfig ?? kubeconfigPath)\(fields) } }
        \(settings)
        """
    }

    /// `pool.discover:` of this server's Service `web` (port name `http`).
    var discoverYAML: String {
        "  discover: { kubernetes: { namespace: default, service: web, port: http, kubeconfig: \(kubeconfigPath) } }"
    }

    /// Sets the Deployment's replicas as another client (the HPA, kubectl scale) would.
    func scale(to replicas: Int) throws {
        let response = try TestHTTPClient(port: controlPort).request(
            "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale",
            headers: ["Connection": "close", "Content-Type": "application/merge-patch+json", "Authorization": "Bearer \(Self.token)"],
            body: #"{"spec":{"replicas":\#(replicas)}}"#)
        guard response.status == 200 else { throw TestFailure("scale: \(response.status) \(response.bodyText)") }
    }

    /// The leader Lease's `spec.holderIdentity`, read as a client would.
    func leaseHolder() throws -> String? {
        let response = try TestHTTPClient(port: controlPort).request(
            "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/tugboat-web",
            headers: ["Connection": "close", "Authorization": "Bearer \(Self.token)"])
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["spec"] as? [String: Any])?["holderIdentity"] as? String
    }

    /// `GET /_contract/state`: replicas, pods, watchers, request counts.
    func state() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(TestHTTPClient.get(port: controlPort, "/_contract/state").body)) as? [String: Any] ?? [:]
    }

    var replicas: Int { (try? state()["replicas"] as? Int) ?? -1 }
    func count(_ key: String) -> Int { ((try? state()["counts"] as? [String: Any])?[key] as? Int) ?? 0 }
    var watchers: Int { (try? state()["watchers"] as? Int) ?? 0 }

    @discardableResult
    func control(_ path: String, _ body: String = "{}") throws -> Int {
        try TestHTTPClient(port: controlPort).request("POST", "/_contract/\(path)", headers: ["Connection": "close", "Content-Type": "application/json"], body: body).status
    }

    deinit {
        for path in [kubeconfigPath] + kubeconfigs { try? FileManager.default.removeItem(atPath: path) }
    }
}
