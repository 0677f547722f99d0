import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TugboatAlerts
import TugboatCluster
import TugboatCore
import TugboatScaling
import TugboatStore

/// `state: kubernetes`: the leader election on the cluster's own Lease, for when there is no
/// Redis. The same `LeaseStateMachine` as the Redis lease makes the decisions (a follower tries
/// every `ttl / 3`; a leader renews as often and steps down locally once `ttl - margin` has passed
/// since its last successful renewal was sent, before any other node can take the lease), so it
/// gives the same takeover guarantees; ``KubernetesLeaseClient`` does the I/O. Only the leader
/// scales (``Scaler/setLeading(_:adopting:)``) and pages (``KubernetesLeaderPageGate``).
final class KubernetesLeader: Service, Sendable {
    private let lease: KubernetesLeaseClient
    private let timing: LeaseTiming
    private let logger: Logger
    private let leading = Atomic<Bool>(false)
    private let scaler = Mutex<Scaler?>(nil)

    init(target: KubernetesTarget, identity: String, logger: Logger) throws {
        lease = try KubernetesLeaseClient(target: target, name: target.leaseName, identity: identity, duration: target.leaseDuration)
        timing = LeaseTiming(ttl: target.leaseDuration, margin: target.leaseDuration / 3)
        self.logger = logger
    }

    var isLeader: Bool { leading.load(ordering: .relaxed) }

    /// The scaler follows this node's leadership (it starts as a follower).
    func follow(_ scaler: Scaler) async {
        await scaler.setLeading(false)
        self.scaler.withLock { $0 = scaler }
    }

    private func setLeading(_ value: Bool) async {
        leading.store(value, ordering: .relaxed)
        await scaler.withLock { $0 }?.setLeading(value)
    }

    func run() async throws {
        typealias Machine = LeaseStateMachine<ContinuousClock.Instant>
        var machine = Machine(timing: timing, now: .now)
        let (events, input) = AsyncStream<Machine.Event>.makeStream()
        let lease = self.lease
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(50))
                        input.yield(.tick)
                    }
                }
                for await event in events {
                    for action in machine.event(event, now: .now) {
                        switch action {
                        case .acquire:
                            group.addTask {
                                let sent = ContinuousClock.now
                                do {
                                    switch try await lease.acquire() {
                                    case .acquired(let epoch): input.yield(.acquired(epoch: epoch, sentAt: sent))
                                    case .refused: input.yield(.acquireRefused)
                                    }
                                } catch {
                                    input.yield(.requestFailed("\(error)"))
                                }
                            }
                        case .renew:
                            group.addTask {
                                let sent = ContinuousClock.now
                                do {
                                    input.yield(try await lease.renew() ? .renewed(sentAt: sent) : .renewRefused)
                                } catch {
                                    input.yield(.requestFailed("\(error)"))
                                }
                            }
                        case .release:
                            await lease.release()
                        case .elected(let epoch):
                            logger.info("kubernetes lease: leading", metadata: ["lease.name": "\(lease.name)", "lease.epoch": "\(epoch)", "node": "\(lease.identity)"])
                            await setLeading(true)
                        case .steppedDown(let reason):
                            logger.warning("kubernetes lease: no longer leading", metadata: ["lease.name": "\(lease.name)", "reason": "\(reason)"])
                            await setLeading(false)
                        }
                    }
                    if machine.isStopped { break }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            input.yield(.shutdown)
        }
        if !machine.isStopped, machine.leaderEpoch != nil {
            // Cancelled rather than shut down gracefully: still give the lease back (a task of its
            // own, so the cancellation does not end the request).
            await Task { await lease.release() }.value
            await setLeading(false)
        }
        await lease.shutdown()
    }
}

/// Only the leader pages. A follower keeps its notifications pending for `takeoverGrace` (the
/// leader may die before paging; then the new leader, which has them too, pages), then leaves them
/// to the leader.
struct KubernetesLeaderPageGate: PageGate {
    let leader: KubernetesLeader
    var takeoverGrace: TimeInterval = 30

    func claim(_ notification: NotificationRecord, incident: IncidentRecord) async -> PageClaim {
        if leader.isLeader { return .send }
        if Date().timeIntervalSince(notification.createdAt) > takeoverGrace { return .sentElsewhere }
        return .deferred("waiting for the leader to page")
    }
}
