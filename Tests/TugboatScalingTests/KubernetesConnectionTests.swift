import Foundation
import Testing
import TestSupport
@testable import TugboatScaling

/// Finding the API server and credentials the way Kubernetes clients do.
struct KubernetesConnectionTests {
    let directory = NSTemporaryDirectory() + "kube-\(UUID().uuidString)"

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func kubeconfig(cluster: String, user: String) -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: test
        contexts: [{ name: test, context: { cluster: c, user: u } }]
        clusters: [{ name: c, cluster: { \(cluster) } }]
        users: [{ name: u, user: { \(user) } }]
        """
    }

    /// The error a kubeconfig is refused with ("" if it is accepted).
    func refused(_ path: String) -> String {
        do {
            _ = try KubernetesConnection.load(kubeconfig: path, allowInsecure: false, environment: [:])
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("kubeconfig: server, token and CA file (relative to the kubeconfig) of the current context")
    func kubeconfigWithCA() throws {
        let certificates = try TestCertificates()
        let ca = try String(contentsOfFile: certificates.caPath, encoding: .utf8)
        _ = try write("ca.pem", ca)
        let path = try write("config", kubeconfig(cluster: "server: \"https://127.0.0.1:6443\", certificate-authority: ca.pem", user: "token: s3cret-token"))
        let connection = try KubernetesConnection.load(kubeconfig: path, allowInsecure: false, environment: [:])
        #expect(connection.server == "https://127.0.0.1:6443")
        #expect(try connection.token.current() == "s3cret-token")
        #expect(connection.tls != nil)
        #expect(!"\(connection.token)".contains("s3cret"), "the token never shows in a log line")
    }

    @Test("insecure-skip-tls-verify is refused unless allowed, and the refusal names the file and key, not the token")
    func insecureRefused() throws {
        let path = try write("config", kubeconfig(cluster: "server: \"https://10.0.0.1\", insecure-skip-tls-verify: true", user: "token: s3cret-token"))
        let refusal = refused(path)
        #expect(refusal.contains("\(path): clusters[c].cluster.insecure-skip-tls-verify is true: refused"))
        #expect(!refusal.contains("s3cret"))
        _ = try KubernetesConnection.load(kubeconfig: path, allowInsecure: true, environment: [:])  // allowed: accepted
    }

    @Test("exec credential plugins and half a client certificate are refused with the key named")
    func refusals() throws {
        let exec = try write("exec", kubeconfig(cluster: "server: \"https://10.0.0.1\"", user: "exec: { command: aws }"))
        #expect(throws: KubernetesConfigError.self) { try KubernetesConnection.load(kubeconfig: exec, allowInsecure: false, environment: [:]) }
        let half = try write("half", kubeconfig(cluster: "server: \"https://10.0.0.1\"", user: "client-certificate-data: \"AAAA\""))
        #expect(refused(half).contains("users[u].user needs both a client certificate and a client key"))
    }

    @Test("in-cluster: KUBERNETES_SERVICE_HOST/PORT, ca.crt, and the token re-read after it rotates")
    func inCluster() throws {
        let certificates = try TestCertificates()
        _ = try write("ca.crt", try String(contentsOfFile: certificates.caPath, encoding: .utf8))
        _ = try write("token", "first-token\n")
        let connection = try KubernetesConnection.load(kubeconfig: nil, allowInsecure: false,
                                                       environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                                       serviceAccount: directory)
        #expect(connection.server == "https://10.96.0.1:443")
        #expect(try connection.token.current() == "first-token")
        _ = try write("token", "rotated-token\n")
        #expect(try connection.token.current() == "rotated-token")
    }
}
