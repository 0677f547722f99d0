// tugboat-kube-contract: a local stand-in for the parts of the Kubernetes API Tugboat uses, for
// tests (no API server can run here). It is not part of the product. It serves, behind a bearer
// token, one Deployment's scale subresource (GET, PATCH with application/merge-patch+json; a
// stale metadata.resourceVersion is a 409), its Service's EndpointSlices (list, and watch as a
// chunked stream of JSON lines with bookmarks; 410 for a compacted resourceVersion), Leases
// (get, create, update with optimistic concurrency), and Status objects for every error. Pods
// are real processes: each replica runs --pod-command (with {port}) on a port of --ports, its
// endpoint published in a slice of its own (ports `metrics`: 9 first, then `http`), not ready,
// then ready --ready-delay after it listens; a pod picked to go is published terminating for
// --terminate-delay before it is stopped.
//
//   tugboat-kube-contract --port 0 --token T --pod-command "tugboat demo-app --port {port}" --ports 30000-30049
//       [--namespace default] [--deployment web] [--service web] [--replicas 1]
//       [--ready-delay-ms 1000] [--terminate-delay-ms 2000] [--bookmark-ms 1000]
//
// Control API (JSON):
//   GET  /_contract/state            replicas, pods (name, port, ready, terminating), watchers, request counts
//                                    ("list endpointslices", "watch endpointslices", "patch deployments/scale", "410", "conflict", …)
//   POST /_contract/fail             {"status":403|409|429|500|…,"count":N,"method":"PATCH","path":"scale"}: the next N matching calls fail
//   POST /_contract/break-watches    closes every watch connection mid-stream
//   POST /_contract/expire           {"as":"event"|"status"}: every resourceVersion so far is compacted away (410 on resume)
//   POST /_contract/token            {"token":"…"}: the token accepted from now on (a rotation)
//
// HTTPS with client certificates (--tls-cert PEM --tls-key PEM --client-ca PEM): the API is served
// over TLS with that certificate and every client must present a certificate signed by the client
// CA (a handshake without one, or with another, fails); such a client needs no token. The plain
// HTTP listener then serves on --control-port (default 0: a free one) for the control API (and the
// API with the token), printed as `kube contract control listening on 127.0.0.1:PORT`.
import ContractSupport
import Foundation
import Logging
import NIOSSL

var port = 0
var token = "kube-contract-token"
var settings = KubeCluster.Settings()
var replicas = 1
var podCommand = ""
var ports = 30_000...30_049
var tlsCertificate: String?, tlsKey: String?, clientCA: String?
var controlPort = 0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
func milliseconds(_ text: String?) -> Duration { .milliseconds(Int(text ?? "") ?? 0) }
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "0") ?? 0
    case "--token": token = arguments.next() ?? token
    case "--namespace": settings.namespace = arguments.next() ?? settings.namespace
    case "--deployment": settings.deployment = arguments.next() ?? settings.deployment
    case "--service": settings.service = arguments.next() ?? settings.service
    case "--replicas": replicas = Int(arguments.next() ?? "1") ?? 1
    case "--pod-command": podCommand = arguments.next() ?? ""
    case "--ports":
        let bounds = (arguments.next() ?? "").split(separator: "-").compactMap { Int($0) }
        if bounds.count == 2, bounds[0] <= bounds[1] { ports = bounds[0]...bounds[1] }
    case "--ready-delay-ms": settings.readyDelay = milliseconds(arguments.next())
    case "--terminate-delay-ms": settings.terminateDelay = milliseconds(arguments.next())
    case "--bookmark-ms": settings.bookmarkInterval = milliseconds(arguments.next())
    case "--tls-cert": tlsCertificate = arguments.next()
    case "--tls-key": tlsKey = arguments.next()
    case "--client-ca": clientCA = arguments.next()
    case "--control-port": controlPort = Int(arguments.next() ?? "0") ?? 0
    default:
        FileHandle.standardError.write("unknown argument \(argument)\n".data(using: .utf8)!)
        exit(2)
    }
}
guard podCommand.contains("{port}") else {
    FileHandle.standardError.write("--pod-command with {port} is required\n".data(using: .utf8)!)
    exit(2)
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}
let cluster = KubeCluster(settings: settings, token: token, replicas: replicas, podCommand: podCommand, ports: ports,
                          logger: Logger(label: "kube-contract"))
Task.detached { await cluster.runReconciler() }  // detached: the main thread blocks in serve
Task.detached { await cluster.sendBookmarks() }
guard let tlsCertificate else {
    try ContractListener.serve(name: "kube contract server", port: port) { KubeHandler(cluster: cluster) }
}
guard let tlsKey, let clientCA else {
    FileHandle.standardError.write("--tls-cert needs --tls-key and --client-ca\n".data(using: .utf8)!)
    exit(2)
}
var tls = TLSConfiguration.makeServerConfiguration(certificateChain: try NIOSSLCertificate.fromPEMFile(tlsCertificate).map { .certificate($0) },
                                                   privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem)))
// A server that verifies peers requires a client certificate (SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
tls.certificateVerification = .noHostnameVerification
tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
let context = try NIOSSLContext(configuration: tls)
_ = try ContractListener.bind(name: "kube contract control", port: controlPort) { KubeHandler(cluster: cluster) }
try ContractListener.serve(name: "kube contract server", port: port, tls: context) { KubeHandler(cluster: cluster, clientCertified: true) }
