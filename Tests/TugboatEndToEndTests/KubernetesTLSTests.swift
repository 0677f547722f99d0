import Foundation
import TestSupport
import Testing

/// The API over HTTPS with x509 client-certificate authentication, as a kubeconfig from
/// `kubeadm` or `kind` sets it up: the cluster's CA and the user's certificate and key, inline
/// (`-data`, base64) or as files. The certificates are made by the test with `openssl`.
@Suite("Kubernetes over TLS with client certificates (contract server)", .serialized)
struct KubernetesTLSTests {
    static let health = "{ path: /health, interval: 200ms, timeout: 500ms, rise: 1, fall: 2 }"

    /// One CA that signs the contract server's certificate (for 127.0.0.1) and Tugboat's client certificate.
    struct Setup {
        let ca: TestCertificates
        let server: (cert: String, key: String)
        let client: (cert: String, key: String)
        let kube: KubeContractServer

        init(replicas: Int = 1) throws {
            ca = try TestCertificates()
            server = try ca.leaf("server", commonName: "127.0.0.1", names: ["127.0.0.1"])
            client = try ca.leaf("client", commonName: "tugboat", names: ["tugboat"])
            kube = try KubeContractServer(replicas: replicas, tls: .init(certificate: server.cert, key: server.key, clientCA: ca.caPath))
        }

        static func base64(_ path: String) throws -> String {
            try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString()
        }

        /// The client key's PEM body lines and its base64 form: none may ever show in a log.
        func keySecrets() throws -> [String] {
            let pem = try String(contentsOfFile: client.key, encoding: .utf8)
            return try pem.split(separator: "\n").filter { !$0.hasPrefix("-----") && $0.count > 20 }.map(String.init) + [Self.base64(client.key)]
        }
    }

    func healthy(_ tugboat: TugboatUnderTest) throws -> Int {
        try tugboat.pool().filter { $0["state"] as? String == "healthy" }.count
    }

    func stop(_ tugboat: TugboatUnderTest) {
        tugboat.child.signal(SIGTERM)
        let status = tugboat.child.waitForExit()
        #expect(status == 0, "\(tugboat.child.lines.suffix(30).joined(separator: "\n"))")
    }

    @Test("a kubeconfig with certificate-authority-data and client-certificate-data/client-key-data scales the Deployment over TLS; one with file paths too")
    func clientCertificates() throws {
        let setup = try Setup(replicas: 1)
        let kube = setup.kube
        let inline = try kube.writeKubeconfig(
            cluster: "certificate-authority-data: \(Setup.base64(setup.ca.caPath))",
            user: "client-certificate-data: \(Setup.base64(setup.client.cert)), client-key-data: \(Setup.base64(setup.client.key))")
        let first = try TugboatUnderTest(backends: [], extraTop: kube.scalingYAML("  min: 2\n  max: 2\n  target-rps: 1000", kubeconfig: inline),
                                         health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "two pods serving, the second asked for over TLS") {
            try kube.replicas == 2 && healthy(first) == 2
        }
        #expect(kube.count("client-certificate requests") > 0)
        #expect(try TestHTTPClient.get(port: first.port, "/").status == 200)
        stop(first)
        let secrets = try setup.keySecrets()
        #expect(!first.child.lines.contains { line in secrets.contains { line.contains($0) } }, "the client key is not in the log")

        // Files, named relative to the kubeconfig (kubectl's rule), next to the certificates.
        let files = try kube.writeKubeconfig(cluster: "certificate-authority: ca.pem", user: "client-certificate: client.pem, client-key: client.key",
                                             directory: setup.ca.directory)
        let requestsBefore = kube.count("client-certificate requests")
        let second = try TugboatUnderTest(backends: [], extraTop: kube.scalingYAML("  min: 3\n  max: 3\n  target-rps: 1000", kubeconfig: files),
                                          health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "three pods serving") { try kube.replicas == 3 && healthy(second) == 3 }
        #expect(kube.count("client-certificate requests") > requestsBefore)
        stop(second)
        #expect(kube.replicas == 3, "stopping Tugboat leaves the replica count alone")
    }

    @Test("a kubeconfig whose CA did not sign the server's certificate: an error naming the kubeconfig, Tugboat keeps running, no token or key in the log")
    func wrongCertificateAuthority() throws {
        let setup = try Setup(replicas: 1)
        let kube = setup.kube
        let other = try TestCertificates()
        let token = "wrong-ca-secret-token-0123456789"
        let kubeconfig = try kube.writeKubeconfig(
            cluster: "certificate-authority-data: \(Setup.base64(other.caPath))",
            user: "token: \(token), client-certificate-data: \(Setup.base64(setup.client.cert)), client-key-data: \(Setup.base64(setup.client.key))")
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: kube.scalingYAML("  min: 1\n  max: 2\n  target-rps: 1000", kubeconfig: kubeconfig),
                                           health: Self.health)
        let line = try tugboat.child.waitForLine { $0.contains("cannot reach the Kubernetes API") }
        print("kubernetes wrong CA: \(line)")
        #expect(line.contains("kubeconfig \(kubeconfig)"), "names the kubeconfig: \(line)")
        #expect(line.contains("certificate authority"), "says what to check: \(line)")
        #expect(kube.count("client-certificate requests") == 0, "no request got through")

        // No crash: the proxy and the admin API still answer, and the retries go on.
        try waitUntilBlocking("the static backend healthy") { try healthy(tugboat) == 1 }
        #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)
        #expect(try TestHTTPClient.get(port: tugboat.adminPort, "/healthz").status == 200)
        try waitUntilBlocking("a second attempt failing the same way") {
            tugboat.child.lines.filter { $0.contains("cannot reach the Kubernetes API") }.count >= 2
        }
        let stopping = Date()
        stop(tugboat)
        #expect(Date().timeIntervalSince(stopping) < 5, "a graceful stop does not wait for the unreachable API server")
        let secrets = try setup.keySecrets() + [token]
        #expect(!tugboat.child.lines.contains { line in secrets.contains { line.contains($0) } }, "neither the token nor the key is in the log")
        #expect(kube.replicas == 1)
    }

    @Test("the server requires a client certificate: a kubeconfig with only a token is refused in the handshake, the error says which keys to check")
    func clientCertificateRequired() throws {
        let setup = try Setup(replicas: 1)
        let kube = setup.kube
        let kubeconfig = try kube.writeKubeconfig(cluster: "certificate-authority-data: \(Setup.base64(setup.ca.caPath))",
                                                  user: "token: \(KubeContractServer.token)")
        let tugboat = try TugboatUnderTest(backends: [], extraTop: kube.scalingYAML("  min: 1\n  max: 2\n  target-rps: 1000", kubeconfig: kubeconfig),
                                           health: Self.health)
        let line = try tugboat.child.waitForLine { $0.contains("cannot reach the Kubernetes API") }
        print("kubernetes no client certificate: \(line)")
        #expect(line.contains("kubeconfig \(kubeconfig)"), "\(line)")
        #expect(line.contains("the server refused the client certificate"), "\(line)")
        #expect(kube.count("client-certificate requests") == 0)
        stop(tugboat)
        #expect(!tugboat.child.lines.contains { $0.contains(KubeContractServer.token) })
    }
}
