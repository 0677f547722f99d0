import ContractSupport
import Foundation
import NIOCore
import NIOHTTP1

/// One connection to the Kubernetes contract server: the API paths Tugboat uses, the bearer
/// token, failures on demand, and the control API under `/_contract/`.
final class KubeHandler: ChannelInboundHandler {
    typealias InboundIn = WholeRequest
    typealias OutboundOut = HTTPServerResponsePart

    let cluster: KubeCluster
    /// On the HTTPS listener that requires a client certificate signed by `--client-ca`: the
    /// handshake has authenticated the client (x509 client-certificate authentication), no token needed.
    let clientCertified: Bool

    init(cluster: KubeCluster, clientCertified: Bool = false) {
        self.cluster = cluster
        self.clientCertified = clientCertified
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        route(request.head, body: Data(request.body.readableBytesView), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cluster.forget(context.channel)
        context.fireChannelInactive()
    }

    private static func query(_ uri: String) -> [String: String] {
        guard let start = uri.firstIndex(of: "?") else { return [:] }
        var fields: [String: String] = [:]
        for pair in uri[uri.index(after: start)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            fields[kv[0].removingPercentEncoding ?? String(kv[0])] = kv.count > 1 ? (kv[1].removingPercentEncoding ?? String(kv[1])) : ""
        }
        return fields
    }

    private func route(_ head: HTTPRequestHead, body: Data, context: ChannelHandlerContext) {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        let query = Self.query(head.uri)
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        if path.hasPrefix("/_contract/") { return control(head.method, path, object, context) }

        let settings = cluster.settings
        let ns = "/namespaces/\(settings.namespace)"
        let scalePath = "/apis/apps/v1\(ns)/deployments/\(settings.deployment)/scale"
        let slicesPath = "/apis/discovery.k8s.io/v1\(ns)/endpointslices"
        let leasesPath = "/apis/coordination.k8s.io/v1\(ns)/leases"
        let watching = query["watch"] == "1" || query["watch"] == "true"
        let verb = switch head.method {
        case .GET: path == slicesPath || path == leasesPath ? (watching ? "watch" : "list") : "get"
        case .PATCH: "patch"
        case .PUT: "update"
        case .POST: "create"
        default: "\(head.method)".lowercased()
        }
        let resource = path == scalePath ? "deployments/scale" : path.hasPrefix(slicesPath) ? "endpointslices" : path.hasPrefix(leasesPath) ? "leases" : "?"
        cluster.count("\(verb) \(resource)")

        if clientCertified { cluster.count("client-certificate requests") }
        guard clientCertified || cluster.authorized(head.headers["authorization"].first) else {
            return respond(context, 401, KubeObjects.status(401, message: "Unauthorized"))
        }
        if let status = cluster.injectedFailure(method: "\(head.method)", path: path) {
            return injected(status, verb: verb, resource: resource, context)
        }
        switch (head.method, path) {
        case (.GET, scalePath):
            respond(context, 200, text: cluster.scale)
        case (.PATCH, scalePath):
            guard head.headers["content-type"].first?.hasPrefix("application/merge-patch+json") == true else {
                return respond(context, 415, KubeObjects.status(415, message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"))
            }
            guard let spec = object?["spec"] as? [String: Any], let replicas = spec["replicas"] as? Int, (0...50).contains(replicas) else {
                return respond(context, 422, KubeObjects.status(422, message: "Scale.autoscaling \"\(settings.deployment)\" is invalid: spec.replicas: Invalid value: must be an integer in 0...50"))
            }
            let version = (object?["metadata"] as? [String: Any])?["resourceVersion"] as? String
            switch cluster.patchReplicas(replicas, resourceVersion: version) {
            case .ok: respond(context, 200, text: cluster.scale)
            case .conflict:
                respond(context, 409, KubeObjects.status(409, message: "Operation cannot be fulfilled on deployments.apps \"\(settings.deployment)\": the object has been modified; please apply your changes to the latest version and try again",
                                                         details: ["name": settings.deployment, "group": "apps", "kind": "deployments"]))
            }
        case (.GET, slicesPath) where watching:
            if let gone = cluster.watch(context.channel, selector: query["labelSelector"], resourceVersion: query["resourceVersion"],
                                        bookmarks: query["allowWatchBookmarks"] == "true", timeoutSeconds: query["timeoutSeconds"].flatMap { Int($0) }) {
                respond(context, 410, text: gone)
            }
        case (.GET, slicesPath):
            respond(context, 200, text: cluster.sliceList(selector: query["labelSelector"]))
        case (_, _) where path.hasPrefix(leasesPath):
            lease(head.method, path: path, collection: leasesPath, object, context)
        default:
            respond(context, 404, KubeObjects.status(404, message: "the server could not find the requested resource"))
        }
    }

    private func lease(_ method: HTTPMethod, path: String, collection: String, _ object: [String: Any]?, _ context: ChannelHandlerContext) {
        let name = path == collection ? ((object?["metadata"] as? [String: Any])?["name"] as? String ?? "") : String(path.dropFirst(collection.count + 1))
        let result: KubeCluster.LeaseResult
        switch (method, path == collection) {
        case (.GET, false): result = cluster.lease(name)
        case (.POST, true): result = cluster.storeLease(name, object ?? [:], create: true)
        case (.PUT, false): result = cluster.storeLease(name, object ?? [:], create: false)
        default: return respond(context, 405, KubeObjects.status(405, message: "the server does not allow this method on the requested resource"))
        }
        switch result {
        case .ok(let json): respond(context, method == .POST ? 201 : 200, text: json)
        case .notFound: respond(context, 404, KubeObjects.status(404, message: "leases.coordination.k8s.io \"\(name)\" not found", details: ["name": name, "group": "coordination.k8s.io", "kind": "leases"]))
        case .conflict(let message): respond(context, 409, KubeObjects.status(409, message: message, reason: method == .POST ? "AlreadyExists" : "Conflict"))
        }
    }

    /// A failure asked for with `/_contract/fail`, shaped as the API server sends it.
    private func injected(_ status: Int, verb: String, resource: String, _ context: ChannelHandlerContext) {
        let settings = cluster.settings
        switch status {
        case 403:
            let group = resource.hasPrefix("deployments") ? "apps" : resource == "leases" ? "coordination.k8s.io" : "discovery.k8s.io"
            respond(context, 403, KubeObjects.forbidden(verb: verb, resource: resource, group: group,
                                                        name: resource.hasPrefix("deployments") ? settings.deployment : nil, namespace: settings.namespace))
        case 409:
            respond(context, 409, KubeObjects.status(409, message: "Operation cannot be fulfilled on deployments.apps \"\(settings.deployment)\": the object has been modified; please apply your changes to the latest version and try again"))
        case 429:
            respond(context, 429, KubeObjects.status(429, message: "Too many requests, please try again later.", details: ["retryAfterSeconds": 1]), retryAfter: "1")
        case 410:
            respond(context, 410, KubeObjects.status(410, message: "too old resource version", reason: "Expired"))
        default:
            respond(context, status, KubeObjects.status(status, message: status == 500 ? "Internal error occurred: injected" : "injected failure"))
        }
    }

    private func control(_ method: HTTPMethod, _ path: String, _ object: [String: Any]?, _ context: ChannelHandlerContext) {
        switch (method, path) {
        case (.GET, "/_contract/state"):
            respond(context, 200, text: cluster.summary)
        case (.POST, "/_contract/fail"):
            cluster.addFailure(.init(status: object?["status"] as? Int ?? 500, method: object?["method"] as? String,
                                     path: object?["path"] as? String, count: object?["count"] as? Int ?? 1))
            respond(context, 200, [:])
        case (.POST, "/_contract/break-watches"):
            respond(context, 200, ["broken": cluster.breakWatches()])
        case (.POST, "/_contract/expire"):
            cluster.expire(asEvent: object?["as"] as? String != "status")
            respond(context, 200, [:])
        case (.POST, "/_contract/token"):
            cluster.setToken(object?["token"] as? String ?? "")
            respond(context, 200, [:])
        default:
            respond(context, 404, ["error": "no such control path \(path)"])
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ status: Int, _ object: [String: Any], retryAfter: String? = nil) {
        respond(context, status, text: KubeObjects.json(object), retryAfter: retryAfter)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: Int, text: String, retryAfter: String? = nil) {
        let buffer = context.channel.allocator.buffer(string: text)
        var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(buffer.readableBytes))])
        if let retryAfter { headers.add(name: "retry-after", value: retryAfter) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
