import Foundation

/// A failed Kubernetes API call, read from the `Status` object the API server answers with
/// (`kind: Status`, `code`, `reason`, `message`, `details.retryAfterSeconds`).
///
/// The description is the log line and scaling event text: what Tugboat tried (verb and
/// resource), the code and reason, the server's message, and for 401 and 403 what to fix. It
/// never contains a credential (the request's token is not part of any `Status`).
package struct KubernetesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status (or the Status object's `code`).
    package var code: Int
    /// `Forbidden`, `NotFound`, `Conflict`, `Expired`, `Gone`, `TooManyRequests`, … when the server sent one.
    package var reason: String?
    package var message: String
    /// The RBAC verb and resource of the request (`patch`, `deployments/scale`).
    package var verb: String
    package var resource: String
    package var namespace: String
    /// `Retry-After` (429, some 5xx), or `details.retryAfterSeconds`.
    package var retryAfter: Duration?

    package init(code: Int, reason: String? = nil, message: String, verb: String, resource: String, namespace: String,
                retryAfter: Duration? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.retryAfter = retryAfter
    }

    /// Reads a `Status` body (anything else: the status code alone, with the body's first 200 bytes).
    package static func from(status: Int, body: Data, retryAfterHeader: String?, verb: String, resource: String, namespace: String) -> KubernetesError {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let isStatus = object?["kind"] as? String == "Status"
        let details = object?["details"] as? [String: Any]
        let retrySeconds = retryAfterHeader.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? details?["retryAfterSeconds"] as? Int
        let text = isStatus ? (object?["message"] as? String ?? "") : String(decoding: body.prefix(200), as: UTF8.self)
        return KubernetesError(code: isStatus ? (object?["code"] as? Int ?? status) : status,
                               reason: isStatus ? object?["reason"] as? String : nil, message: text,
                               verb: verb, resource: resource, namespace: namespace, retryAfter: retrySeconds.map { .seconds($0) })
    }

    /// A watch's `ERROR` event or a 410: the resourceVersion is too old, list again.
    package var isGone: Bool { code == 410 || reason == "Expired" || reason == "Gone" }
    package var isConflict: Bool { code == 409 }

    package var description: String {
        let what = "kubernetes: \(verb) \(resource) in namespace \(namespace)"
        let status = "\(code)\(reason.map { " \($0)" } ?? "")"
        let server = message.isEmpty ? "" : ": \(message)"
        switch code {
        case 401:
            return "\(what) failed with \(status)\(server) (the token or client certificate was not accepted: check the kubeconfig or the service account token)"
        case 403:
            return "\(what) failed with \(status)\(server) (RBAC: the service account needs a Role granting verb '\(verb)' on resource '\(resource)' in namespace '\(namespace)'; see README, Kubernetes)"
        case 404:
            return "\(what) failed with \(status)\(server) (check the namespace and the name)"
        case 429:
            return "\(what) failed with \(status)\(server)\(retryAfter.map { " (retry after \($0))" } ?? "")"
        default:
            return "\(what) failed with \(status)\(server)"
        }
    }
}
