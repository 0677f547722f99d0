import Foundation
import Synchronization
import TugboatCore

/// The leader Lease (`coordination.k8s.io/v1`) of `state: kubernetes`: taken when free (see
/// ``LeaseObservation``), renewed by replacing it with the resourceVersion of this node's last
/// write (a 409 Conflict means another node took it), given back on shutdown with an empty holder.
/// The decisions of when to ask and when to stop leading are `LeaseStateMachine`'s.
package final class KubernetesLeaseClient: Sendable {
    package enum Outcome: Sendable, Equatable {
        case acquired(epoch: UInt64)
        case refused(holder: String?)
    }

    package let name: String
    package let identity: String
    private let duration: Duration
    private let client: KubernetesClient
    private let state = Mutex<(observation: LeaseObservation<ContinuousClock.Instant>, mine: LeaseRecord?)>((LeaseObservation(), nil))

    package init(target: KubernetesTarget, name: String, identity: String, duration: Duration,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                serviceAccount: String = KubernetesConnection.serviceAccountDirectory) throws {
        let connection = try KubernetesConnection.load(kubeconfig: target.kubeconfig, allowInsecure: target.allowInsecureTLS,
                                                       environment: environment, serviceAccount: serviceAccount)
        self.client = KubernetesClient(connection: connection, namespace: target.namespace)
        self.name = name
        self.identity = identity
        self.duration = duration
    }

    private var collection: String { "/apis/coordination.k8s.io/v1/namespaces/\(client.namespace)/leases" }

    private static func microTime(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return formatter.string(from: date)
    }

    private static func record(_ data: Data) -> LeaseRecord? {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        let spec = object["spec"] as? [String: Any] ?? [:]
        let metadata = object["metadata"] as? [String: Any] ?? [:]
        return LeaseRecord(holder: spec["holderIdentity"] as? String, durationSeconds: spec["leaseDurationSeconds"] as? Int ?? 15,
                           renewTime: spec["renewTime"] as? String, transitions: spec["leaseTransitions"] as? Int ?? 0,
                           resourceVersion: metadata["resourceVersion"] as? String)
    }

    private func body(holder: String, transitions: Int, resourceVersion: String?, acquired: Bool) throws -> Data {
        let now = Self.microTime()
        var spec: [String: Any] = ["holderIdentity": holder, "leaseDurationSeconds": Int(duration.components.seconds),
                                   "renewTime": now, "leaseTransitions": transitions]
        if acquired { spec["acquireTime"] = now }
        var metadata: [String: Any] = ["name": name]
        if let resourceVersion { metadata["resourceVersion"] = resourceVersion }
        return try JSONSerialization.data(withJSONObject: ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                           "metadata": metadata, "spec": spec], options: [.sortedKeys])
    }

    /// A write of the lease; nil when another write came first (409).
    private func write(_ body: Data, create: Bool) async throws -> LeaseRecord? {
        do {
            let data = create
                ? try await client.send(.POST, collection, body: body, .init(verb: "create", resource: "leases"))
                : try await client.send(.PUT, "\(collection)/\(name)", body: body, .init(verb: "update", resource: "leases"))
            return Self.record(data)
        } catch let error as KubernetesError where error.isConflict {
            return nil
        }
    }

    package func acquire() async throws -> Outcome {
        let current: LeaseRecord?
        do {
            current = Self.record(try await client.send(.GET, "\(collection)/\(name)", .init(verb: "get", resource: "leases")))
        } catch let error as KubernetesError where error.code == 404 {
            current = nil
        }
        let free = state.withLock { state in
            state.observation.observe(current, now: .now)
            return state.observation.isFree(for: identity, now: .now)
        }
        guard free else { return .refused(holder: current?.holder) }
        let transitions = (current?.transitions ?? 0) + (current?.holder == identity ? 0 : 1)
        let written = try await write(try body(holder: identity, transitions: transitions, resourceVersion: current?.resourceVersion,
                                               acquired: current?.holder != identity),
                                      create: current == nil)
        guard let written else { return .refused(holder: nil) }
        state.withLock { $0.mine = written }
        return .acquired(epoch: UInt64(max(1, written.transitions)))
    }

    /// False when the lease is no longer this node's.
    package func renew() async throws -> Bool {
        guard let mine = state.withLock({ $0.mine }) else { return false }
        let written = try await write(try body(holder: identity, transitions: mine.transitions, resourceVersion: mine.resourceVersion,
                                               acquired: false), create: false)
        state.withLock { $0.mine = written }
        return written != nil
    }

    /// Best effort: an empty holder, so another node takes it at once.
    package func release() async {
        guard let mine = state.withLock({ $0.mine }) else { return }
        _ = try? await write(try body(holder: "", transitions: mine.transitions, resourceVersion: mine.resourceVersion, acquired: false), create: false)
        state.withLock { $0.mine = nil }
    }

    package func shutdown() async { await client.shutdown() }
}
