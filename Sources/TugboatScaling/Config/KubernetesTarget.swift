import TugboatCore

/// Where the Kubernetes provider and discovery find their objects (`scaling.provider.kubernetes`,
/// `pool.discover.kubernetes`).
package struct KubernetesTarget: Sendable, Equatable {
    package var namespace: String
    /// The Deployment scaled through its scale subresource; nil for discovery alone.
    package var deployment: String?
    /// The Service whose EndpointSlices (`kubernetes.io/service-name=<service>`) are the instances.
    package var service: String
    /// The EndpointSlice port *name* to dial; nil: each slice's first port.
    package var port: String?
    /// A kubeconfig file; nil: in-cluster (the service account), else `$KUBECONFIG`, else `~/.kube/config`.
    package var kubeconfig: String?
    /// Whether a kubeconfig's `insecure-skip-tls-verify: true` is accepted (refused otherwise).
    package var allowInsecureTLS: Bool
    /// With `state: kubernetes`: the leader Lease's `leaseDurationSeconds`.
    package var leaseDuration: Duration = .seconds(15)

    package init(namespace: String, deployment: String?, service: String, port: String? = nil, kubeconfig: String? = nil,
                allowInsecureTLS: Bool = false) {
        self.namespace = namespace
        self.deployment = deployment
        self.service = service
        self.port = port
        self.kubeconfig = kubeconfig
        self.allowInsecureTLS = allowInsecureTLS
    }

    /// Whether `name` is a DNS-1123 label (namespaces, services, port names): lowercase letters,
    /// digits and '-', starting and ending with a letter or digit, at most 63 characters.
    /// The leader Lease of `state: kubernetes`: `tugboat-<deployment>` in the namespace.
    package var leaseName: String { "tugboat-\(deployment ?? service)" }

    package static func isLabel(_ name: String) -> Bool {
        guard (1...63).contains(name.utf8.count), let first = name.utf8.first, let last = name.utf8.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
        return alnum(first) && alnum(last) && name.utf8.allSatisfy { alnum($0) || $0 == 0x2d }
    }

    /// Whether `name` is a DNS-1123 subdomain (Deployment names): labels joined by '.', at most 253.
    package static func isSubdomain(_ name: String) -> Bool {
        name.utf8.count <= 253 && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }
}
