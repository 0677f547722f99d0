import Foundation
import NIOSSL
import TugboatCore
import Yams

/// How to reach the API server and prove who Tugboat is, the way Kubernetes clients find it:
/// a kubeconfig named in the config; else in-cluster (`KUBERNETES_SERVICE_HOST`/`PORT` and the
/// service account's token and `ca.crt`); else `$KUBECONFIG`, else `~/.kube/config`.
package struct KubernetesConnection: Sendable {
    /// `https://host:port` (plain `http://` only as a kubeconfig says so).
    package var server: String
    package var token: TokenSource
    /// TLS to the server (CA, client certificate); nil for an `http://` server.
    package var tls: TLSConfiguration?
    /// Where it came from, for log lines (`in-cluster`, `kubeconfig /path (context c)`).
    package var origin: String

    /// Where the bearer token comes from. Its description never shows the token.
    package enum TokenSource: Sendable, CustomStringConvertible {
        case none
        case literal(String)
        /// Read before every request, so a rotated (projected) service account token is picked up.
        case file(String)

        package func current() throws -> String? {
            switch self {
            case .none: return nil
            case .literal(let token): return token
            case .file(let path):
                do {
                    return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                } catch {
                    throw KubernetesConfigError("cannot read the token file \(path): \(ErrorText.short(error))")
                }
            }
        }

        package var description: String {
            switch self {
            case .none: "no token"
            case .literal: "token (from the kubeconfig)"
            case .file(let path): "token file \(path)"
            }
        }
    }

    package static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// - Parameters:
    ///   - kubeconfig: `kubeconfig` of the config; nil to look in-cluster first.
    ///   - allowInsecure: whether `insecure-skip-tls-verify: true` is accepted.
    package static func load(kubeconfig: String?, allowInsecure: Bool, environment: [String: String] = ProcessInfo.processInfo.environment,
                            serviceAccount: String = serviceAccountDirectory) throws -> KubernetesConnection {
        if let kubeconfig { return try fromKubeconfig(path: kubeconfig, allowInsecure: allowInsecure) }
        if let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty {
            return try inCluster(host: host, port: environment["KUBERNETES_SERVICE_PORT"] ?? "443", directory: serviceAccount)
        }
        let path = environment["KUBECONFIG"].flatMap { $0.split(separator: ":").first.map(String.init) }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config")
        guard FileManager.default.fileExists(atPath: path) else {
            throw KubernetesConfigError("no Kubernetes credentials: not in a cluster (KUBERNETES_SERVICE_HOST is not set) and no kubeconfig at \(path)")
        }
        return try fromKubeconfig(path: path, allowInsecure: allowInsecure)
    }

    static func inCluster(host: String, port: String, directory: String) throws -> KubernetesConnection {
        let caPath = directory + "/ca.crt"
        guard let ca = FileManager.default.contents(atPath: caPath) else {
            throw KubernetesConfigError("in-cluster: cannot read \(caPath)")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try certificates(ca, what: caPath))
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubernetesConnection(server: "https://\(hostPart):\(port)", token: .file(directory + "/token"), tls: tls, origin: "in-cluster")
    }

    static func certificates(_ pem: Data, what: String) throws -> [NIOSSLCertificate] {
        do {
            return try NIOSSLCertificate.fromPEMBytes(Array(pem))
        } catch {
            throw KubernetesConfigError("\(what) is not a PEM certificate")
        }
    }
}

/// Credentials that cannot be used: names the file and the key, never a secret's value.
package struct KubernetesConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
