import Foundation

/// The scale subresource of one Deployment (`/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`):
/// read `spec.replicas`, and change it with a merge patch that carries the resourceVersion read,
/// so a concurrent change (409 Conflict) is retried on a fresh read rather than overwritten.
struct DeploymentScale: Sendable {
    let client: KubernetesClient
    let deployment: String
    /// Attempts on 409 Conflict (and 429 with its Retry-After, at most 10 s each) before giving up.
    var attempts = 5

    private var path: String { "/apis/apps/v1/namespaces/\(client.namespace)/deployments/\(deployment)/scale" }

    private struct Scale: Decodable {
        struct Metadata: Decodable { var resourceVersion: String? }
        struct Spec: Decodable { var replicas: Int? }
        var metadata: Metadata
        var spec: Spec?
    }

    func read() async throws -> (replicas: Int, resourceVersion: String?) {
        let data = try await client.send(.GET, path, .init(verb: "get", resource: "deployments/scale"))
        guard let scale = try? JSONDecoder().decode(Scale.self, from: data) else {
            throw KubernetesError(code: 500, message: "the scale of deployment \(deployment) could not be read", verb: "get",
                                  resource: "deployments/scale", namespace: client.namespace)
        }
        return (scale.spec?.replicas ?? 0, scale.metadata.resourceVersion)
    }

    /// Reads the replica count and, when `change` returns another, patches it. Returns the count
    /// now asked of Kubernetes.
    @discardableResult
    func update(_ change: @Sendable (Int) -> Int?) async throws -> Int {
        var attempt = 1
        while true {
            let (replicas, version) = try await read()
            guard let wanted = change(replicas), wanted != replicas else { return replicas }
            var metadata: [String: Any] = [:]
            if let version { metadata["resourceVersion"] = version }
            let body = try JSONSerialization.data(withJSONObject: ["metadata": metadata, "spec": ["replicas": wanted]], options: [.sortedKeys])
            do {
                _ = try await client.send(.PATCH, path, body: body, contentType: "application/merge-patch+json",
                                          .init(verb: "patch", resource: "deployments/scale"))
                return wanted
            } catch let error as KubernetesError where (error.isConflict || error.code == 429) && attempt < attempts {
                attempt += 1
                if error.code == 429 { try await Task.sleep(for: min(error.retryAfter ?? .seconds(1), .seconds(10))) }
            }
        }
    }
}
