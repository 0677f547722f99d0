import Foundation
import Testing
@testable import TugboatCore
@testable import TugboatRuntime
import TugboatScaling
import Yams

@Suite("Kubernetes config")
struct KubernetesConfigTests {
    func parse(_ yaml: String) throws -> ScalingSettings {
        let node = try #require(try Yams.compose(yaml: yaml))
        return try ConfigLoader.parseScaling(YAMLValue(node: node, key: "scaling", file: "t.yaml", environment: [:]))
    }

    @Test("scaling.provider.kubernetes parses, with the namespace defaulting to 'default'")
    func parses() throws {
        let full = try parse("provider:\n  kubernetes: { namespace: shop, deployment: web.v2, service: web, port: http, kubeconfig: /etc/kube.yaml }\n")
        #expect(full.provider == .kubernetes(KubernetesTarget(namespace: "shop", deployment: "web.v2", service: "web", port: "http",
                                                              kubeconfig: "/etc/kube.yaml")))
        #expect(full.provider.kind == "kubernetes")
        let short = try parse("provider: { kubernetes: { deployment: web, service: web-svc } }")
        #expect(short.provider == .kubernetes(KubernetesTarget(namespace: "default", deployment: "web", service: "web-svc")))
    }

    @Test("mistakes name the line and key", arguments: [
        ("provider:\n  kubernetes: { service: web }\n", "t.yaml:2: 'scaling.provider.kubernetes' needs 'deployment' and 'service'"),
        ("provider:\n  kubernetes:\n    deployment: web\n    service: Web_1\n", "t.yaml:4: 'scaling.provider.kubernetes.service' must be a Kubernetes name"),
        ("provider:\n  kubernetes:\n    deployment: web\n    service: web\n    namespace: -x\n", "t.yaml:5: 'scaling.provider.kubernetes.namespace' must be a Kubernetes name"),
        ("provider:\n  kubernetes:\n    deployment: web\n    service: web\n    replicas: 3\n", "t.yaml:5: unknown key 'scaling.provider.kubernetes.replicas'"),
        ("provider:\n  kubernetes:\n    deployment: web\n    service: web\n    allow-insecure-tls: maybe\n", "t.yaml:5: 'scaling.provider.kubernetes.allow-insecure-tls'"),
    ])
    func errors(yaml: String, expected: String) {
        expectConfigError(expected) { try parse(yaml) }
    }

    @Test("Kubernetes names: DNS-1123 labels and subdomains")
    func names() {
        #expect(KubernetesTarget.isLabel("web-1"))
        #expect(!KubernetesTarget.isLabel("Web"))
        #expect(!KubernetesTarget.isLabel("web-"))
        #expect(!KubernetesTarget.isLabel(String(repeating: "a", count: 64)))
        #expect(KubernetesTarget.isSubdomain("web.v2"))
        #expect(!KubernetesTarget.isSubdomain("web..v2"))
    }

    @Test("state: kubernetes needs the kubernetes provider (its namespace holds the Lease), named at its line")
    func stateNeedsTheProvider() throws {
        let path = NSTemporaryDirectory() + "kube-state-\(UUID().uuidString).yaml"
        try "listen: 127.0.0.1:0\nstate: kubernetes\npool: { backends: [127.0.0.1:9000] }\n".write(toFile: path, atomically: true, encoding: .utf8)
        expectConfigError("\(path):2: 'state: kubernetes' needs 'scaling.provider.kubernetes'") { try ConfigLoader.load(path: path) }
        try """
        listen: 127.0.0.1:0
        state: kubernetes
        local-state: sqlite:/tmp/x.db
        scaling: { provider: { kubernetes: { deployment: web, service: web, lease-duration: 3s } } }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: path)
        #expect(config.kubernetesLease?.leaseName == "tugboat-web")
        #expect(config.kubernetesLease?.leaseDuration == .seconds(3))
    }
}
