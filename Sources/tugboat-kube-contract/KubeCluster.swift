import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import TugboatCore
import TugboatScaling

/// The one Deployment, its pods (real `tugboat demo-app` processes), their EndpointSlices with a
/// watchable history, and Leases: everything the contract server's connections share.
///
/// A patched replica count is carried out by the reconciler: a new pod's process is started, its
/// endpoint published not ready, then ready once it listens and `readyDelay` has passed; a pod
/// picked to go (not-ready ones first, then the newest) is published terminating, stopped after
/// `terminateDelay`, and its slice deleted.
final class KubeCluster: Sendable {
    struct Pod: Sendable {
        var name: String
        var port: Int
        var ordinal: Int
        var ready = false
        var terminating = false
        var instance: ScalingInstance
    }

    struct Settings: Sendable {
        var namespace = "default"
        var deployment = "web"
        var service = "web"
        var readyDelay: Duration = .seconds(1)
        var terminateDelay: Duration = .seconds(2)
        var bookmarkInterval: Duration = .seconds(1)
    }

    struct Failure: Sendable {
        var status: Int
        var method: String?
        var path: String?
        var count: Int
    }

    private struct Watcher {
        var channel: any Channel
        var bookmarks: Bool
    }

    private struct State {
        var token: String
        var replicas: Int
        var scaleVersion = 1
        var version = 1
        /// resourceVersions below this are no longer in the history (a watch from one gets 410).
        var floor = 0
        var goneAsEvent = true
        var pods: [Pod] = []
        var starting = 0
        var nextOrdinal = 0
        var history: [(version: Int, line: String)] = []
        var watchers: [ObjectIdentifier: Watcher] = [:]
        var failures: [Failure] = []
        var counts: [String: Int] = [:]
        var leases: [String: (json: String, version: Int)] = [:]
    }

    let settings: Settings
    private let state: Mutex<State>
    private let processes: ProcessProvider
    private let kicks: AsyncStream<Void>
    private let kick: AsyncStream<Void>.Continuation
    private let logger: Logger

    init(settings: Settings, token: String, replicas: Int, podCommand: String, ports: ClosedRange<Int>, logger: Logger) {
        self.settings = settings
        self.state = Mutex(State(token: token, replicas: replicas))
        self.processes = ProcessProvider(command: podCommand, ports: ports, stopGrace: .seconds(5), logger: logger)
        self.logger = logger
        (kicks, kick) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        kick.yield()
    }

    // MARK: Requests

    func authorized(_ header: String?) -> Bool {
        state.withLock { header == "Bearer \($0.token)" }
    }

    func setToken(_ token: String) { state.withLock { $0.token = token } }

    func count(_ key: String) { state.withLock { $0.counts[key, default: 0] += 1 } }

    func addFailure(_ failure: Failure) { state.withLock { $0.failures.append(failure) } }

    /// The status to answer this request with instead, if a failure was asked for.
    func injectedFailure(method: String, path: String) -> Int? {
        state.withLock { state in
            guard let i = state.failures.firstIndex(where: { ($0.method == nil || $0.method == method) && ($0.path.map { path.contains($0) } ?? true) })
            else { return nil }
            state.failures[i].count -= 1
            let status = state.failures[i].status
            if state.failures[i].count <= 0 { state.failures.remove(at: i) }
            return status
        }
    }

    /// The answers below are JSON text, made under the lock from a consistent state.
    var scale: String {
        state.withLock { state in
            KubeObjects.json(KubeObjects.scale(namespace: settings.namespace, deployment: settings.deployment, replicas: state.replicas,
                              current: state.pods.filter { !$0.terminating }.count, resourceVersion: state.scaleVersion))
        }
    }

    enum PatchResult { case ok, conflict }

    func patchReplicas(_ replicas: Int, resourceVersion: String?) -> PatchResult {
        let result = state.withLock { state -> PatchResult in
            if let resourceVersion, resourceVersion != String(state.scaleVersion) {
                state.counts["conflict", default: 0] += 1
                return .conflict
            }
            state.replicas = replicas
            state.version += 1
            state.scaleVersion = state.version
            return .ok
        }
        if result == .ok { kick.yield() }
        return result
    }

    func sliceList(selector: String?) -> String {
        state.withLock { state in
            let matches = selector == "kubernetes.io/service-name=\(settings.service)"
            let items = matches ? state.pods.map { KubeObjects.slice($0, namespace: settings.namespace, service: settings.service, resourceVersion: state.version) } : []
            return KubeObjects.json(["kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
                                     "metadata": ["resourceVersion": String(state.version)], "items": items])
        }
    }

    /// Starts a watch on `channel`: 410 (an answer, or an ERROR event) for a resourceVersion no
    /// longer in the history; else the events after it (all slices as ADDED for none or "0"),
    /// then every change as it happens. Ends (cleanly) after `timeoutSeconds`.
    func watch(_ channel: any Channel, selector: String?, resourceVersion: String?, bookmarks: Bool, timeoutSeconds: Int?) -> String? {
        let gone = state.withLock { state -> String? in
            let version = resourceVersion.flatMap { Int($0) }
            let fromScratch = resourceVersion == nil || resourceVersion == "" || resourceVersion == "0"
            if !fromScratch, version == nil || version! < state.floor {
                state.counts["410", default: 0] += 1
                let status = KubeObjects.status(410, message: "too old resource version: \(resourceVersion ?? "") (\(state.floor))", reason: "Expired")
                guard state.goneAsEvent else { return KubeObjects.json(status) }
                Self.startStream(channel)
                Self.write(channel, KubeObjects.event("ERROR", status))
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                return nil
            }
            Self.startStream(channel)
            guard selector == "kubernetes.io/service-name=\(settings.service)" else { return nil }
            if fromScratch {
                for pod in state.pods {
                    Self.write(channel, KubeObjects.event("ADDED", KubeObjects.slice(pod, namespace: settings.namespace, service: settings.service, resourceVersion: state.version)))
                }
            } else {
                for entry in state.history where entry.version > version! { Self.write(channel, entry.line) }
            }
            state.watchers[ObjectIdentifier(channel)] = Watcher(channel: channel, bookmarks: bookmarks)
            return nil
        }
        if gone == nil, let timeoutSeconds, timeoutSeconds > 0 {
            channel.eventLoop.scheduleTask(in: .seconds(Int64(timeoutSeconds))) { [self] in endWatch(channel) }
        }
        return gone
    }

    private static func startStream(_ channel: any Channel) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "transfer-encoding", value: "chunked")
        channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)), promise: nil)
    }

    private static func write(_ channel: any Channel, _ line: String) {
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: line))), promise: nil)
    }

    func endWatch(_ channel: any Channel) {
        state.withLock { state in
            guard state.watchers.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        }
    }

    func forget(_ channel: any Channel) {
        state.withLock { _ = $0.watchers.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Closes every watch connection mid-stream, as a dropped connection would.
    func breakWatches() -> Int {
        let channels = state.withLock { state in
            defer { state.watchers = [:] }
            return state.watchers.values.map(\.channel)
        }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }

    /// Compacts the history: every resourceVersion handed out so far is gone.
    func expire(asEvent: Bool) {
        state.withLock { state in
            state.goneAsEvent = asEvent
            state.version += 1
            state.floor = state.version
            state.history = []
        }
    }

    /// A change of `pod`'s slice: a new resourceVersion, kept in the history, sent to every watch.
    private func publish(_ type: String, _ pod: Pod, in state: inout State) {
        state.version += 1
        let line = KubeObjects.event(type, KubeObjects.slice(pod, namespace: settings.namespace, service: settings.service, resourceVersion: state.version))
        state.history.append((state.version, line))
        if state.history.count > 10_000 { state.history.removeFirst(state.history.count - 10_000) }
        for watcher in state.watchers.values { Self.write(watcher.channel, line) }
    }

    func sendBookmarks() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.bookmarkInterval)
            state.withLock { state in
                let line = KubeObjects.bookmark(resourceVersion: state.version)
                for watcher in state.watchers.values where watcher.bookmarks { Self.write(watcher.channel, line) }
            }
        }
    }

    // MARK: Leases

    /// `ok`: the stored Lease as JSON text.
    enum LeaseResult { case ok(String), notFound, conflict(String) }

    func lease(_ name: String) -> LeaseResult {
        state.withLock { state in state.leases[name].map { .ok($0.json) } ?? .notFound }
    }

    /// Create (`create`: must not exist) or replace (its `metadata.resourceVersion` must be the stored one).
    func storeLease(_ name: String, _ object: [String: Any], create: Bool) -> LeaseResult {
        let given = (object["metadata"] as? [String: Any])?["resourceVersion"] as? String
        var json = object
        var metadata = object["metadata"] as? [String: Any] ?? [:]
        metadata["name"] = name
        metadata["namespace"] = settings.namespace
        json["kind"] = "Lease"
        json["apiVersion"] = "coordination.k8s.io/v1"
        return state.withLock { state -> LeaseResult in
            if create, state.leases[name] != nil { return .conflict("leases.coordination.k8s.io \"\(name)\" already exists") }
            if !create {
                guard let stored = state.leases[name] else { return .notFound }
                guard given == String(stored.version) else {
                    state.counts["lease conflict", default: 0] += 1
                    return .conflict("Operation cannot be fulfilled on leases.coordination.k8s.io \"\(name)\": the object has been modified; please apply your changes to the latest version and try again")
                }
            }
            state.version += 1
            metadata["resourceVersion"] = String(state.version)
            json["metadata"] = metadata
            let text = KubeObjects.json(json)
            state.leases[name] = (text, state.version)
            return .ok(text)
        }
    }

    // MARK: What the control API shows

    var summary: String {
        state.withLock { state in
            KubeObjects.json([
                "replicas": state.replicas, "resourceVersion": String(state.version), "watchers": state.watchers.count, "counts": state.counts,
                "pods": state.pods.map { ["name": $0.name, "port": $0.port, "ready": $0.ready, "terminating": $0.terminating] as [String: Any] },
            ])
        }
    }

    // MARK: The reconciler

    func runReconciler() async {
        for await _ in kicks { reconcile() }
    }

    private func reconcile() {
        let (start, leaving) = state.withLock { state -> (Int, [Pod]) in
            let active = state.pods.filter { !$0.terminating }.count + state.starting
            if active < state.replicas {
                state.starting += state.replicas - active
                return (state.replicas - active, [])
            }
            var excess = active - state.replicas
            var leaving: [Pod] = []
            // Like a ReplicaSet: not-ready pods go first, then the newest.
            let order = state.pods.indices.filter { !state.pods[$0].terminating }
                .sorted { (state.pods[$0].ready ? 1 : 0, -state.pods[$0].ordinal) < (state.pods[$1].ready ? 1 : 0, -state.pods[$1].ordinal) }
            for i in order where excess > 0 {
                state.pods[i].terminating = true
                publish("MODIFIED", state.pods[i], in: &state)
                leaving.append(state.pods[i])
                excess -= 1
            }
            return (0, leaving)
        }
        for _ in 0..<start { Task { await startPod() } }
        for pod in leaving { Task { await stopPod(pod) } }
    }

    private func startPod() async {
        let instance: ScalingInstance
        do {
            instance = try await processes.launch()
        } catch {
            logger.error("pod did not start", metadata: ["error": "\(error)"])
            state.withLock { $0.starting -= 1 }
            kick.yield()
            return
        }
        let pod = state.withLock { state -> Pod in
            state.starting -= 1
            state.nextOrdinal += 1
            let suffix = String(UUID().uuidString.lowercased().prefix(5))
            let pod = Pod(name: "\(settings.deployment)-\(suffix)", port: instance.address.port, ordinal: state.nextOrdinal, instance: instance)
            state.pods.append(pod)
            publish("ADDED", pod, in: &state)
            return pod
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while !Self.listening(port: pod.port), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        try? await Task.sleep(for: settings.readyDelay)
        state.withLock { state in
            guard let i = state.pods.firstIndex(where: { $0.name == pod.name }), !state.pods[i].terminating else { return }
            state.pods[i].ready = true
            publish("MODIFIED", state.pods[i], in: &state)
        }
        logger.info("pod ready", metadata: ["pod": "\(pod.name)", "port": "\(pod.port)"])
        kick.yield()
    }

    private func stopPod(_ pod: Pod) async {
        try? await Task.sleep(for: settings.terminateDelay)
        try? await processes.stop(pod.instance)
        state.withLock { state in
            guard let i = state.pods.firstIndex(where: { $0.name == pod.name }) else { return }
            let gone = state.pods.remove(at: i)
            publish("DELETED", gone, in: &state)
        }
        logger.info("pod stopped", metadata: ["pod": "\(pod.name)", "port": "\(pod.port)"])
        kick.yield()
    }

    func shutdown() async { await processes.shutdown() }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func listening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
