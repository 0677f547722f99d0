import Foundation
import NIOSSL
import Yams

extension KubernetesConnection {
    /// The current context of a kubeconfig: its cluster's `server`, `certificate-authority(-data)`
    /// and `insecure-skip-tls-verify`; its user's `token`/`tokenFile` and
    /// `client-certificate(-data)`/`client-key(-data)`. Relative paths are relative to the file.
    /// `exec` and `auth-provider` users are refused (Tugboat runs no credential plugins).
    static func fromKubeconfig(path: String, allowInsecure: Bool) throws -> KubernetesConnection {
        func fail(_ message: String) -> KubernetesConfigError { KubernetesConfigError("kubeconfig \(path): \(message)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the file") }
        let root: [String: Any]
        do {
            root = try Yams.load(yaml: String(decoding: data, as: UTF8.self)) as? [String: Any] ?? [:]
        } catch {
            throw fail("not YAML")
        }
        let directory = (path as NSString).deletingLastPathComponent
        func named(_ list: String, _ name: String, _ body: String) throws -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }) else { throw fail("no \(list) entry named '\(name)'") }
            return entry[body] as? [String: Any] ?? [:]
        }
        guard let current = root["current-context"] as? String, !current.isEmpty else { throw fail("'current-context' is not set") }
        let context = try named("contexts", current, "context")
        guard let clusterName = context["cluster"] as? String else { throw fail("contexts[\(current)].context.cluster is not set") }
        let cluster = try named("clusters", clusterName, "cluster")
        let userName = context["user"] as? String
        let user = try userName.map { try named("users", $0, "user") } ?? [:]
        let userKey = "users[\(userName ?? "")].user"

        guard let server = (cluster["server"] as? String).map({ $0.hasSuffix("/") ? String($0.dropLast()) : $0 }),
              server.hasPrefix("https://") || server.hasPrefix("http://")
        else { throw fail("clusters[\(clusterName)].cluster.server must be an https:// URL") }
        if user["exec"] != nil || user["auth-provider"] != nil {
            throw fail("\(userKey) uses \(user["exec"] != nil ? "exec" : "auth-provider") credentials, which Tugboat does not run; use a token or a client certificate")
        }

        func bytes(_ inline: String, _ file: String, in object: [String: Any], at key: String) throws -> Data? {
            if let text = object[inline] as? String {
                guard let decoded = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                    throw fail("\(key).\(inline) is not valid base64")
                }
                return decoded
            }
            guard let file = object[file] as? String else { return nil }
            let full = file.hasPrefix("/") ? file : directory + "/" + file
            guard let contents = FileManager.default.contents(atPath: full) else { throw fail("\(key).\(file): cannot read \(full)") }
            return contents
        }

        var tls: TLSConfiguration?
        if server.hasPrefix("https://") {
            var configuration = TLSConfiguration.makeClientConfiguration()
            let clusterKey = "clusters[\(clusterName)].cluster"
            if cluster["insecure-skip-tls-verify"] as? Bool == true {
                guard allowInsecure else {
                    throw fail("\(clusterKey).insecure-skip-tls-verify is true: refused (the server's identity would not be checked); set 'allow-insecure-tls: true' to accept it")
                }
                configuration.certificateVerification = .none
            } else if let ca = try bytes("certificate-authority-data", "certificate-authority", in: cluster, at: clusterKey) {
                configuration.trustRoots = .certificates(try certificates(ca, what: "\(clusterKey) certificate authority"))
            }
            let certificate = try bytes("client-certificate-data", "client-certificate", in: user, at: userKey)
            let key = try bytes("client-key-data", "client-key", in: user, at: userKey)
            switch (certificate, key) {
            case (let certificate?, let key?):
                configuration.certificateChain = try certificates(certificate, what: "\(userKey) client certificate").map { .certificate($0) }
                do {
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem))
                } catch {
                    throw fail("\(userKey) client key is not a PEM private key")
                }
            case (nil, nil): break
            default: throw fail("\(userKey) needs both a client certificate and a client key")
            }
            tls = configuration
        }

        var token = TokenSource.none
        if let literal = user["token"] as? String, !literal.isEmpty {
            token = .literal(literal)
        } else if let file = user["tokenFile"] as? String {
            token = .file(file.hasPrefix("/") ? file : directory + "/" + file)
        }
        return KubernetesConnection(server: server, token: token, tls: tls, origin: "kubeconfig \(path) (context \(current))")
    }
}
