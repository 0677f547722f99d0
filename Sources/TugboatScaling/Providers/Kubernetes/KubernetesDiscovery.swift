import Foundation
import Logging
import ServiceLifecycle
import TugboatCore

/// `pool.discover.kubernetes`: the pool follows a Service's endpoints without scaling anything
/// (for users who scale with the HPA). A ready endpoint is added (as `starting`: Tugboat's health
/// check still decides when it gets traffic); one that turns terminating or vanishes is drained and
/// removed. The changes are made through `add` and `drainAndRemove` (the pool membership).
package struct KubernetesDiscovery: Service {
    let target: KubernetesTarget
    let logger: Logger
    let add: @Sendable (HostPort) async -> Void
    let drainAndRemove: @Sendable (HostPort) async -> Void
    let environment: [String: String]
    let serviceAccount: String

    package init(target: KubernetesTarget, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment,
                serviceAccount: String = KubernetesConnection.serviceAccountDirectory,
                add: @escaping @Sendable (HostPort) async -> Void, drainAndRemove: @escaping @Sendable (HostPort) async -> Void) {
        self.target = target
        self.logger = logger
        self.environment = environment
        self.serviceAccount = serviceAccount
        self.add = add
        self.drainAndRemove = drainAndRemove
    }

    /// What to do when the endpoints change from `before` to `now` (pure).
    static func changes(from before: Set<HostPort>, to now: [ServiceEndpoint]) -> (add: [HostPort], remove: [HostPort], serving: Set<HostPort>) {
        let serving = Set(now.filter(\.takesTraffic).map(\.address))
        return (serving.subtracting(before).sorted(), before.subtracting(serving).sorted(), serving)
    }

    package func run() async throws {
        let connection: KubernetesConnection
        do {
            connection = try KubernetesConnection.load(kubeconfig: target.kubeconfig, allowInsecure: target.allowInsecureTLS,
                                                       environment: environment, serviceAccount: serviceAccount)
        } catch {
            logger.error("kubernetes discovery: cannot connect", metadata: ["kubernetes.service": "\(target.service)", "error": "\(error)"])
            return
        }
        let client = KubernetesClient(connection: connection, namespace: target.namespace)
        let watcher = EndpointSliceWatcher(client: client, service: target.service, portName: target.port, logger: logger)
        let members = Members()
        await cancelWhenGracefulShutdown { [add, drainAndRemove] in
            await watcher.run { endpoints in
                let (added, removed) = await members.apply(endpoints)
                for address in added { await add(address) }
                for address in removed { await drainAndRemove(address) }
            }
        }
        await client.shutdown()
    }

    private actor Members {
        var current: Set<HostPort> = []

        func apply(_ endpoints: [ServiceEndpoint]) -> ([HostPort], [HostPort]) {
            let change = KubernetesDiscovery.changes(from: current, to: endpoints)
            current = change.serving
            return (change.add, change.remove)
        }
    }
}
