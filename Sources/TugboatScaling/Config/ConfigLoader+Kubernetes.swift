import TugboatCore

// Parsing of `scaling.provider.kubernetes` and `pool.discover.kubernetes`.
extension ConfigLoader {
    package static func parseDiscover(_ value: YAMLValue) throws -> KubernetesTarget {
        let keys = try value.mapping(allowed: ["kubernetes"])
        guard let body = keys["kubernetes"] else { throw value.error("'\(value.key)' needs 'kubernetes'") }
        return try parseKubernetes(body, scaling: false)
    }

    /// `scaling`: the Deployment is required (it is what is scaled); discovery takes none.
    package static func parseKubernetes(_ value: YAMLValue, scaling: Bool) throws -> KubernetesTarget {
        let allowed = ["namespace", "service", "port", "kubeconfig", "allow-insecure-tls"] + (scaling ? ["deployment", "lease-duration"] : [])
        let fields = try value.mapping(allowed: allowed)
        guard let service = fields["service"], !scaling || fields["deployment"] != nil else {
            throw value.error("'\(value.key)' needs \(scaling ? "'deployment' and 'service'" : "'service'")")
        }
        func name(_ field: YAMLValue, subdomain: Bool = false) throws -> String {
            let text = try field.string()
            guard subdomain ? KubernetesTarget.isSubdomain(text) : KubernetesTarget.isLabel(text) else {
                throw field.error("'\(field.key)' must be a Kubernetes name (lowercase letters, digits and '-'\(subdomain ? ", '.'" : ""), got '\(text)'")
            }
            return text
        }
        let kubeconfig = try fields["kubeconfig"].map { field in
            let path = try field.string()
            guard !path.isEmpty else { throw field.error("'\(field.key)' must be a file path") }
            return path
        }
        var target = KubernetesTarget(
            namespace: try fields["namespace"].map { try name($0) } ?? "default",
            deployment: try fields["deployment"].map { try name($0, subdomain: true) },
            service: try name(service),
            port: try fields["port"].map { try name($0) },
            kubeconfig: kubeconfig,
            allowInsecureTLS: try fields["allow-insecure-tls"]?.bool() ?? false
        )
        if let lease = fields["lease-duration"] {
            target.leaseDuration = try lease.duration()
            guard target.leaseDuration >= .seconds(2), target.leaseDuration.components.attoseconds == 0 else {
                throw lease.error("'\(lease.key)' must be whole seconds, at least 2s")
            }
        }
        return target
    }
}
