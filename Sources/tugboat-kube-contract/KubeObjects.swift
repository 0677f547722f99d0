import Foundation

/// The JSON shapes the contract server answers with (Kubernetes OpenAPI: `Status`, `Scale`,
/// `EndpointSlice`, `EndpointSliceList`, watch events, `Lease`).
enum KubeObjects {
    static func json(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static let reasons: [Int: String] = [
        400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
        410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    ]

    /// A `Status` of kind Failure.
    static func status(_ code: Int, message: String, reason: String? = nil, details: [String: Any]? = nil) -> [String: Any] {
        var object: [String: Any] = [
            "kind": "Status", "apiVersion": "v1", "metadata": [String: Any](), "status": "Failure",
            "message": message, "reason": reason ?? reasons[code] ?? "Unknown", "code": code,
        ]
        if let details { object["details"] = details }
        return object
    }

    /// The message the API server gives for a request RBAC refuses.
    static func forbidden(verb: String, resource: String, group: String, name: String?, namespace: String) -> [String: Any] {
        let kind = resource.split(separator: "/")[0]
        let what = "\(kind)\(group.isEmpty ? "" : ".\(group)")\(name.map { " \"\($0)\"" } ?? "")"
        let message = "\(what) is forbidden: User \"system:serviceaccount:\(namespace):tugboat\" cannot \(verb) resource \"\(resource)\" in API group \"\(group)\" in the namespace \"\(namespace)\""
        var details: [String: Any] = ["group": group, "kind": String(kind)]
        if let name { details["name"] = name }
        return status(403, message: message, details: details)
    }

    static func scale(namespace: String, deployment: String, replicas: Int, current: Int, resourceVersion: Int) -> [String: Any] {
        [
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": ["name": deployment, "namespace": namespace, "resourceVersion": String(resourceVersion)],
            "spec": ["replicas": replicas],
            "status": ["replicas": current, "selector": "app=\(deployment)"],
        ]
    }

    /// One pod's slice: its endpoint, a decoy `metrics` port first and `http` (the pod's port).
    static func slice(_ pod: KubeCluster.Pod, namespace: String, service: String, resourceVersion: Int) -> [String: Any] {
        [
            "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": [
                "name": "\(service)-\(pod.name.split(separator: "-").last ?? "")", "namespace": namespace,
                "resourceVersion": String(resourceVersion),
                "labels": ["kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"],
            ] as [String: Any],
            "addressType": "IPv4",
            "endpoints": [[
                "addresses": ["127.0.0.1"],
                "conditions": ["ready": pod.ready && !pod.terminating, "serving": pod.ready, "terminating": pod.terminating],
                "targetRef": ["kind": "Pod", "namespace": namespace, "name": pod.name],
            ] as [String: Any]],
            "ports": [["name": "metrics", "port": 9, "protocol": "TCP"], ["name": "http", "port": pod.port, "protocol": "TCP"]],
        ]
    }

    static func event(_ type: String, _ object: [String: Any]) -> String {
        json(["type": type, "object": object]) + "\n"
    }

    static func bookmark(resourceVersion: Int) -> String {
        event("BOOKMARK", ["kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": ["resourceVersion": String(resourceVersion)]])
    }
}
