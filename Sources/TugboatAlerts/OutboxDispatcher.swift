import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import TugboatCore
import TugboatStore

/// Delivers the outbox: every pending notification whose time has come is sent; success marks it
/// `sent` with the provider's id, a retryable error schedules the next attempt (exponential backoff
/// with jitter), a permanent error or the last attempt marks it `failed`. Nothing is dropped silently,
/// and pending notifications left by a previous run are delivered after a restart.
/// Decides, with several nodes, whether this node sends a page (only the leader does, once per
/// cluster). A single node has no gate and sends everything.
public protocol PageGate: Sendable {
    func claim(_ notification: NotificationRecord, incident: IncidentRecord) async -> PageClaim
}

public enum PageClaim: Sendable, Equatable {
    /// This node sends it.
    case send
    /// Another node sent it already (a takeover): marked sent, not sent again.
    case sentElsewhere
    /// Not now (this node does not lead, or Redis is unreachable): it stays pending and is asked again.
    case deferred(String)
}

public final class OutboxDispatcher: Service, Sendable {
    public struct RetryPolicy: Sendable {
        public var firstDelay: Duration = .seconds(1)
        public var maxDelay: Duration = .seconds(300)
        public var maxAttempts: Int = 10

        public init(firstDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300), maxAttempts: Int = 10) {
            self.firstDelay = firstDelay
            self.maxDelay = maxDelay
            self.maxAttempts = maxAttempts
        }

        /// `alerts.retry`.
        public init(_ alerts: AlertsConfig) {
            self.init(firstDelay: alerts.retryFirst, maxDelay: alerts.retryMax, maxAttempts: alerts.retryAttempts)
        }

        /// Full jitter between half and all of the exponential delay.
        public func delay(afterAttempt attempt: Int) -> Duration {
            let exponential = firstDelay * (1 << min(attempt - 1, 20))
            let capped = min(exponential, maxDelay)
            return capped * Double.random(in: 0.5...1.0)
        }
    }

    private let store: Store
    /// Replaced when a reload changes the channels; a delivery under way keeps its sender.
    private let senders: Mutex<[String: NotificationSender]>
    /// Channels a reload removed: their pending notifications fail, saying so.
    private let removedChannels = Mutex<Set<String>>([])
    private let retryPolicy: Mutex<RetryPolicy>
    private let logger: Logger
    private let gate: (any PageGate)?
    private let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation

    public init(store: Store, senders: [String: NotificationSender], policy: RetryPolicy = RetryPolicy(), logger: Logger,
                gate: (any PageGate)? = nil) {
        self.gate = gate
        self.store = store
        self.senders = Mutex(senders)
        self.retryPolicy = Mutex(policy)
        self.logger = logger
        (wakeUps, wakeUp) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// A reload changed the channels: deliveries from now on (retries included) use these. A
    /// notification still pending for a channel no longer there is marked `failed` at its next
    /// attempt ("channel 'x' was removed by a config reload"), never dropped unseen.
    public func replaceSenders(_ senders: [String: NotificationSender]) {
        let gone = self.senders.withLock { current in
            defer { current = senders }
            return Set(current.keys).subtracting(senders.keys)
        }
        removedChannels.withLock { $0 = $0.union(gone).subtracting(senders.keys) }
    }

    /// A reload changed `alerts.retry`: attempts from now on follow it.
    public func replacePolicy(_ policy: RetryPolicy) {
        retryPolicy.withLock { $0 = policy }
    }

    /// New notifications were written: deliver now rather than at the next poll.
    public func notify() { wakeUp.yield() }

    public func run() async throws {
        let wakeUps = self.wakeUps
        await withTaskGroup(of: Void.self) { group in
            // One consumer for the whole run (an AsyncStream ends when its consumer is cancelled):
            // it delivers on every wake-up, from new pages or from the ticker below.
            group.addTask {
                for await _ in wakeUps.cancelOnGracefulShutdown() {
                    await self.deliverDue()
                }
            }
            // Retries fall due with time: look five times a second (one indexed query when idle).
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    self.wakeUp.yield()
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(200)) }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Sends every due notification once, concurrently. Tests call it directly.
    public func deliverDue() async {
        let due: [NotificationRecord]
        do {
            due = try store.dueNotifications(now: Date())
        } catch {
            logger.error("outbox unreadable", metadata: ["error": "\(error)"])
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for notification in due {
                group.addTask { await self.deliver(notification) }
            }
        }
    }

    private func deliver(_ notification: NotificationRecord) async {
        var record = notification
        if let gate, let incident = try? store.incident(id: record.incident) {
            switch await gate.claim(record, incident: incident) {
            case .send:
                break
            case .sentElsewhere:
                record.status = "sent"
                record.sentAt = Date()
                record.lastError = "sent by another node"
                try? store.update(record)
                logger.info("notification sent by another node", metadata: ["notification.id": "\(record.id ?? 0)"])
                return
            case .deferred(let reason):
                record.lastError = reason
                record.nextAttemptAt = Date().addingTimeInterval(1)
                try? store.update(record)
                return
            }
        }
        record.attempts += 1
        let policy = retryPolicy.withLock { $0 }
        let metadata: Logger.Metadata = [
            "notification.id": "\(record.id ?? 0)", "incident.id": "\(record.incident)",
            "notification.channel": "\(record.channel)", "notification.kind": "\(record.kind)",
            "notification.attempt": "\(record.attempts)",
        ]
        do {
            guard let sender = senders.withLock({ $0[record.channel] }) else { throw DeliveryError.permanent(missingChannel(record.channel)) }
            guard let incident = try? store.incident(id: record.incident) else { throw DeliveryError.permanent("incident \(record.incident) is gone") }
            record.providerID = try await sender.send(record, incident: incident)
            record.status = "sent"
            record.sentAt = Date()
            record.lastError = nil
            logger.info("notification sent", metadata: metadata.merging(["provider.id": "\(record.providerID ?? "-")"]) { $1 })
        } catch let error as DeliveryError {
            record.lastError = error.description
            switch error {
            case .permanent:
                record.status = "failed"
                logger.error("notification failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            case .retryable(_, let retryAfter):
                if record.attempts >= policy.maxAttempts {
                    record.status = "failed"
                    record.lastError = "gave up after \(record.attempts) attempts: \(error)"
                    logger.error("notification failed", metadata: metadata.merging(["error": "\(record.lastError!)"]) { $1 })
                } else {
                    let delay = max(retryAfter ?? .zero, policy.delay(afterAttempt: record.attempts))
                    record.nextAttemptAt = Date().addingTimeInterval(delay.seconds)
                    logger.warning("notification will be retried", metadata: metadata.merging([
                        "error": "\(error)", "retry.in": "\(DurationParser.format(delay))",
                    ]) { $1 })
                }
            }
        } catch {
            record.lastError = "\(error)"
            record.nextAttemptAt = Date().addingTimeInterval(policy.delay(afterAttempt: record.attempts).seconds)
        }
        Counter(label: "tugboat_notification_attempts_total",
                dimensions: [("channel", record.channel), ("kind", record.kind), ("status", record.status)]).increment()
        do {
            try store.update(record)
        } catch {
            logger.error("outbox write failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    private func missingChannel(_ name: String) -> String {
        removedChannels.withLock { $0.contains(name) }
            ? "channel '\(name)' was removed by a config reload" : "channel '\(name)' is not configured"
    }
}
