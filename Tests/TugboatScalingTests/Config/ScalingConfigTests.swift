import TestSupport
import Testing
import TugboatCore
@testable import TugboatScaling

// The `scaling:` section's parser, on its own (the whole file's load is TugboatRuntimeTests/Config).

@Suite("Scaling config")
struct ScalingConfigTests {
    /// The `scaling:` section alone, written at the top level of the text.
    func parse(_ yaml: String) throws -> ScalingSettings {
        let root = try #require(try ConfigLoader.document(yaml, file: "t.yaml", environment: [:]))
        return try ConfigLoader.parseScaling(YAMLValue(node: root.node, key: "scaling", file: root.file, environment: [:]))
    }

    @Test("the three providers and both modes parse")
    func providers() throws {
        let process = try parse("provider: { process: { command: \"python3 app.py --port {port}\", ports: 9100-9199 } }\nmin: 0\nmax: 4\ntarget-rps: 50\nstabilize-down: 1m")
        #expect(process.provider == .process(command: "python3 app.py --port {port}", ports: 9100...9199))
        #expect(process.min == 0 && process.max == 4)
        #expect(process.mode == .targetTracking(targetRPS: 50))
        #expect(process.stabilizeDown == .seconds(60))
        #expect(process.targetInflight == nil)
        let slow = try parse("provider: { docker: { image: web:1, port: 80 } }\ntarget-rps: 50\ntarget-inflight: 8")
        #expect(slow.targetInflight == 8)
        let exec = try parse("provider: { exec: { up: ./scale_up.sh, down: ./scale_down.sh } }\nup-rps: 100\ndown-rps: 20")
        #expect(exec.provider == .exec(up: "./scale_up.sh", down: "./scale_down.sh", timeout: .seconds(300)))
        #expect(exec.mode == .thresholds(upRPS: 100, downRPS: 20))
        let docker = try parse("provider: { docker: { image: web:1, port: 80 } }")
        #expect(docker.provider == .docker(image: "web:1", port: 80, socket: "/var/run/docker.sock"))
    }

    @Test("mistakes name the line and key", arguments: [
        ("min: 1\n", "t.yaml:1: 'scaling.provider' is required"),
        ("provider: { process: { command: app, ports: 9100-9199 } }\n", "t.yaml:1: 'scaling.provider.process.command' must contain {port}"),
        ("provider: { process: { command: \"a {port}\", ports: 9199-9100 } }\n", "t.yaml:1: 'scaling.provider.process.ports' must be a port range"),
        ("provider: { docker: { image: x, port: 80 } }\nmin: 5\nmax: 2\n", "t.yaml:3: 'scaling.max' (2) must not be below 'scaling.min' (5)"),
        ("provider: { docker: { image: x, port: 80 } }\nup-rps: 10\n", "t.yaml:1: 'scaling' takes either 'target-rps', or both 'up-rps' and 'down-rps'"),
        ("provider: { docker: { image: x, port: 80 } }\ntarget-inflight: 0\n", "t.yaml:2: 'scaling.target-inflight'"),
        ("provider: { docker: { image: x, port: 80 } }\nup-rps: 10\ndown-rps: 20\n", "t.yaml:3: 'scaling.down-rps' must be below 'scaling.up-rps'"),
    ])
    func errors(yaml: String, expected: String) {
        expectConfigError(expected) { try parse(yaml) }
    }
}

@Suite("Kubernetes config")
struct KubernetesConfigTests {
    /// The `scaling:` section alone, written at the top level of the text.
    func parse(_ yaml: String) throws -> ScalingSettings {
        let root = try #require(try ConfigLoader.document(yaml, file: "t.yaml", environment: [:]))
        return try ConfigLoader.parseScaling(YAMLValue(node: root.node, key: "scaling", file: root.file, environment: [:]))
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
}
