import Foundation
import TestSupport
import Testing
@testable import TugboatCore
@testable import TugboatRuntime
import TugboatScaling

@Suite("Kubernetes config: state: kubernetes")
struct KubernetesStateConfigTests {
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
