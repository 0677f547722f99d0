import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TugboatCore

/// Instances are the ready endpoints of a Service; their number is the `spec.replicas` of a
/// Deployment, changed through its scale subresource. Kubernetes starts and stops the pods:
///
/// - ``launch()`` asks for one replica more than the instances handed out and awaited, then
///   returns the next endpoint that turns ready (within `readyTimeout`).
/// - ``shrink(to:)`` sets the count; Kubernetes picks the pods, whose endpoints turn terminating
///   and are reported on ``leaving`` (the scaler drains them at once).
/// - ``list()`` adopts every ready endpoint after the first list; from then on each endpoint that
///   turns ready with no launch waiting for it is reported on ``arriving`` (every replica's pool
///   follows the Service, leader or not). ``shutdown()`` leaves the replica count alone, so
///   stopping or restarting Tugboat never changes it.
///
/// Run it as a `Service` (the scaler does): that is the EndpointSlice list and watch.
package final class KubernetesProvider: ReplicaProvider, Service {
    package let name = "kubernetes"
    package let exits: AsyncStream<InstanceExit>
    package let leaving: AsyncStream<ScalingInstance>
    package let arriving: AsyncStream<ScalingInstance>

    private let target: KubernetesTarget
    private let connection: Result<KubernetesClient, any Error>
    private let readyTimeout: Duration
    private let logger: Logger
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation
    private let leavingContinuation: AsyncStream<ScalingInstance>.Continuation
    private let arrivingContinuation: AsyncStream<ScalingInstance>.Continuation
    private let listed = Latch()
    private let watchBackoff: (first: Duration, max: Duration)

    private struct State {
        var claims = EndpointClaims()
        var wakers: [Int: AsyncStream<Void>.Continuation] = [:]
        var grants: [Int: ScalingInstance] = [:]
        var nextWaiter = 0
        /// The scaler has adopted the first list: endpoints nobody waits for are handed out.
        var adopting = false
        /// The first list is in.
        var listed = false
    }
    private let state = Mutex(State())

    /// - Parameters:
    ///   - readyTimeout: how long a launch waits for a new ready endpoint.
    ///   - environment, serviceAccount: where in-cluster credentials are looked up (tests).
    package init(target: KubernetesTarget, readyTimeout: Duration, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                serviceAccount: String = KubernetesConnection.serviceAccountDirectory,
                watchBackoff: (first: Duration, max: Duration) = (.milliseconds(200), .seconds(30))) {
        self.target = target
        self.readyTimeout = readyTimeout
        self.logger = logger
        self.watchBackoff = watchBackoff
        connection = Result {
            let connection = try KubernetesConnection.load(kubeconfig: target.kubeconfig, allowInsecure: target.allowInsecureTLS,
                                                           environment: environment, serviceAccount: serviceAccount)
            logger.info("kubernetes: connecting", metadata: [
                "kubernetes.server": "\(connection.server)", "kubernetes.credentials": "\(connection.origin), \(connection.token)",
            ])
            return KubernetesClient(connection: connection, namespace: target.namespace)
        }
        (exits, exitContinuation) = AsyncStream.makeStream()
        (leaving, leavingContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
        (arriving, arrivingContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
    }

    private var metadata: Logger.Metadata {
        ["kubernetes.namespace": "\(target.namespace)", "kubernetes.deployment": "\(target.deployment ?? "")", "kubernetes.service": "\(target.service)"]
    }

    private func client() throws -> KubernetesClient {
        do { return try connection.get() } catch { throw ProviderError("\(error)") }
    }

    private func scale() throws -> DeploymentScale {
        guard let deployment = target.deployment else { throw ProviderError("kubernetes: no deployment to scale") }
        return DeploymentScale(client: try client(), deployment: deployment)
    }

    /// Changing the target (namespace, deployment, service, credentials) needs a restart; a reload
    /// refuses it before it gets here.
    package func update(_ settings: ScalingSettings.Provider) {}

    package func launch() async throws -> ScalingInstance {
        let scale = try scale()
        let (id, stream, now) = state.withLock { state -> (Int, AsyncStream<Void>?, ScalingInstance?) in
            state.nextWaiter += 1
            let id = state.nextWaiter
            if let instance = state.claims.take(waiter: id) { return (id, nil, instance) }
            let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            state.wakers[id] = continuation
            return (id, stream, nil)
        }
        if let now {
            logger.info("kubernetes: ready endpoint taken", metadata: metadata.merging(["instance.address": "\(now.address)", "kubernetes.pod": "\(now.providerID)"]) { $1 })
            return now
        }
        do {
            let wanted = state.withLock { $0.claims.launchTarget }
            let replicas = try await scale.update { $0 < wanted ? wanted : nil }
            logger.info("kubernetes: replicas asked for", metadata: metadata.merging(["kubernetes.replicas": "\(replicas)"]) { $1 })
        } catch {
            _ = finishWaiting(id)
            throw ProviderError("\(error)")
        }
        if let stream {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await _ in stream { return } }
                group.addTask { [readyTimeout] in try? await Task.sleep(for: readyTimeout) }
                _ = await group.next()
                group.cancelAll()
            }
        }
        guard let instance = finishWaiting(id) else {
            throw ProviderError("kubernetes: no new ready endpoint of service \(target.service) within \(readyTimeout) (deployment \(target.deployment ?? ""))")
        }
        logger.info("kubernetes: new endpoint ready", metadata: metadata.merging(["instance.address": "\(instance.address)", "kubernetes.pod": "\(instance.providerID)"]) { $1 })
        return instance
    }

    /// The endpoint granted to waiter `id`, or nil (and it no longer waits).
    private func finishWaiting(_ id: Int) -> ScalingInstance? {
        state.withLock { state in
            state.wakers.removeValue(forKey: id)?.finish()
            if let granted = state.grants.removeValue(forKey: id) { return granted }
            state.claims.cancel(waiter: id)
            return nil
        }
    }

    package func shrink(to count: Int) async throws {
        let scale = try scale()
        let keep = state.withLock { $0.claims.rejectedRunning }
        do {
            let replicas = try await scale.update { _ in count + keep }
            logger.info("kubernetes: replicas asked for", metadata: metadata.merging(["kubernetes.replicas": "\(replicas)"]) { $1 })
        } catch {
            throw ProviderError("\(error)")
        }
    }

    /// The pod is already terminating (it was ``leaving``), or the scaler gave up on it (a failed
    /// health check): Kubernetes, not Tugboat, stops pods, so it only stops being handed out.
    package func stop(_ instance: ScalingInstance) async throws {
        let stillServing = state.withLock { $0.claims.release(instance) }
        if stillServing {
            logger.warning("kubernetes: endpoint given up on but left running (Kubernetes picks which pods stop)",
                           metadata: metadata.merging(["instance.address": "\(instance.address)", "kubernetes.pod": "\(instance.providerID)"]) { $1 })
        }
    }

    /// Every ready endpoint, once the first list is in (at most 10 s).
    package func list() async throws -> [ScalingInstance] {
        _ = try client()
        // Cancellable: with the API server unreachable the first list never comes, and a graceful
        // stop must not wait for it.
        _ = await listed.wait(within: .seconds(10))
        // From now on endpoints nobody waits for arrive on `arriving` (also when the first list is
        // late: it is then adopted through them).
        let found = state.withLock { state -> [ScalingInstance]? in
            state.adopting = true
            return state.listed ? state.claims.takeAll() : nil
        }
        guard let found else { throw ProviderError("kubernetes: the endpoints of service \(target.service) could not be listed") }
        return found
    }

    package func run() async throws {
        let client: KubernetesClient
        do { client = try connection.get() } catch {
            logger.error("kubernetes: cannot connect", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return
        }
        let watcher = EndpointSliceWatcher(client: client, service: target.service, portName: target.port, logger: logger,
                                           backoffFirst: watchBackoff.first, backoffMax: watchBackoff.max)
        await cancelWhenGracefulShutdown {
            await watcher.run { endpoints in self.endpointsChanged(endpoints) }
        }
    }

    private func endpointsChanged(_ endpoints: [ServiceEndpoint]) {
        let (leaving, arrived) = state.withLock { state in
            state.listed = true
            // Before the scaler's first list(), free endpoints wait for it (it adopts them all then).
            var outcome: (granted: [(waiter: Int, instance: ScalingInstance)], leaving: [ScalingInstance], arrived: [ScalingInstance])
            if state.adopting {
                outcome = state.claims.follow(endpoints)
            } else {
                let (granted, leaving) = state.claims.update(endpoints)
                outcome = (granted, leaving, [])
            }
            for grant in outcome.granted {
                state.grants[grant.waiter] = grant.instance
                state.wakers[grant.waiter]?.yield()
            }
            return (outcome.leaving, outcome.arrived)
        }
        listed.open()
        logger.debug("kubernetes: endpoints", metadata: metadata.merging([
            "kubernetes.ready": "\(endpoints.filter(\.takesTraffic).count)", "kubernetes.terminating": "\(endpoints.filter(\.terminating).count)",
        ]) { $1 })
        for instance in leaving {
            logger.info("kubernetes: endpoint terminating or gone; draining it",
                        metadata: metadata.merging(["instance.address": "\(instance.address)", "kubernetes.pod": "\(instance.providerID)"]) { $1 })
            leavingContinuation.yield(instance)
        }
        for instance in arrived {
            logger.info("kubernetes: endpoint ready that no launch here waited for; adopting it",
                        metadata: metadata.merging(["instance.address": "\(instance.address)", "kubernetes.pod": "\(instance.providerID)"]) { $1 })
            arrivingContinuation.yield(instance)
        }
    }

    /// Leaves the replica count as it is.
    package func shutdown() async {
        exitContinuation.finish()
        leavingContinuation.finish()
        arrivingContinuation.finish()
        if case .success(let client) = connection { await client.shutdown() }
    }
}
