import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import TugboatCore
import TugboatStore

/// Decides, with several nodes, whether this node sends a page (only the leader does, once per
/// cluster). A single node has no gate and sends everything.
package protocol PageGate: Sendable {
    func claim(_ notification: NotificationRecord, incident: IncidentRecord) async -> PageClaim
}

package enum PageClaim: Sendable, Equatable {
    /// This node sends it.
    case send
    /// Another node sent it already (a takeover): marked sent, not sent again.
    case sentElsewhere
    /// Not now (this node does not lead, or Redis is unreachable): it stays pending and is asked again.
    case deferred(String)
}

/// Delivers the outbox: every pending notification whose time has come is sent; success marks it
/// `sent` with the provider's id, a retryable error schedules the next attempt (exponential backoff
/// with jitter, a channel's `Retry-After` honoured up to the policy's longest delay), a permanent
/// error or the last attempt marks it `failed`. Nothing is dropped silently, and pending
/// notifications left by a previous run are delivered after a restart.
///
/// Each destination is a lane of its own (``OutboxLanes``): a delivery that hangs holds up nothing
/// else. A delivery cancelled by shutdown is not an attempt: its row stays as it was, for the next run.
package final class OutboxDispatcher: Service, Sendable {
    package struct RetryPolicy: Sendable {
        package var firstDelay: Duration = .seconds(1)
        package var maxDelay: Duration = .seconds(300)
        package var maxAttempts: Int = 10

        package init(firstDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300), maxAttempts: Int = 10) {
            self.firstDelay = firstDelay
            self.maxDelay = maxDelay
            self.maxAttempts = maxAttempts
        }

        /// `alerts.retry`.
        package init(_ alerts: AlertsConfig) {
            self.init(firstDelay: alerts.retryFirst, maxDelay: alerts.retryMax, maxAttempts: alerts.retryAttempts)
        }

        /// Full jitter between half and all of the exponential delay.
        package func delay(afterAttempt attempt: Int) -> Duration {
            Backoff(first: firstDelay, maximum: maxDelay, jitter: .between(0.5, 1)).delay(afterAttempt: attempt)
        }

        /// The wait before the next attempt: the backoff, or longer when the channel asked for it
        /// (`Retry-After`), but never longer than `maxDelay` (a provider answering "in a year" does
        /// not park a page for a year).
        package func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
            max(min(retryAfter ?? .zero, maxDelay), delay(afterAttempt: attempt))
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
    private let lanes = Mutex(OutboxLanes())
    /// When a notification is due, when it was sent, when it is retried; the poll (tests pass a manual one).
    private let clock: ServiceClock

    package init(store: Store, senders: [String: NotificationSender], policy: RetryPolicy = RetryPolicy(), logger: Logger,
                gate: (any PageGate)? = nil, clock: ServiceClock = .continuous) {
        self.gate = gate
        self.clock = clock
        self.store = store
        self.senders = Mutex(senders)
        self.retryPolicy = Mutex(policy)
        self.logger = logger
        (wakeUps, wakeUp) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// A reload changed the channels: deliveries from now on (retries included) use these. A
    /// notification still pending for a channel no longer there is marked `failed` at its next
    /// attempt ("channel 'x' was removed by a config reload"), never dropped unseen.
    package func replaceSenders(_ senders: [String: NotificationSender]) {
        let gone = self.senders.withLock { current in
            defer { current = senders }
            return Set(current.keys).subtracting(senders.keys)
        }
        removedChannels.withLock { $0 = $0.union(gone).subtracting(senders.keys) }
    }

    /// A reload changed `alerts.retry`: attempts from now on follow it.
    package func replacePolicy(_ policy: RetryPolicy) {
        retryPolicy.withLock { $0 = policy }
    }

    /// New notifications were written: deliver now rather than at the next poll.
    package func notify() { wakeUp.yield() }

    package func run() async throws {
        let wakeUps = self.wakeUps
        await withDiscardingTaskGroup { group in
            // Retries fall due with time: look five times a second (one indexed query when idle).
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    self.wakeUp.yield()
                    try? await cancelWhenGracefulShutdown { try await self.clock.sleep(for: .milliseconds(200)) }
                }
            }
            // One consumer for the whole run (an AsyncStream ends when its consumer is cancelled):
            // on every wake-up, from new pages, the ticker or a lane coming free, each idle lane
            // starts its oldest due notification; nothing waits for a delivery under way.
            for await _ in wakeUps.cancelOnGracefulShutdown() {
                for notification in await claimDue() {
                    group.addTask {
                        await self.deliverClaimed(notification)
                        self.wakeUp.yield()  // its lane may have more due
                    }
                }
            }
            // Shutting down: deliveries under way are cancelled; they are not counted as attempts
            // and the next run delivers them.
            group.cancelAll()
        }
    }

    /// One round: each idle lane's oldest due notification, sent concurrently; returns when they
    /// are done. Tests call it directly.
    package func deliverDue() async {
        await withDiscardingTaskGroup { group in
            for notification in await claimDue() {
                group.addTask { await self.deliverClaimed(notification) }
            }
        }
    }

    /// The due notifications of idle lanes, one per lane, their lanes now busy.
    private func claimDue() async -> [NotificationRecord] {
        let busy = lanes.withLock { $0.busy }
        do {
            let due = try await store.dueNotifications(now: clock.date, excluding: busy.map { ($0.channel, $0.recipient) })
            return lanes.withLock { $0.claim(due) }
        } catch {
            logger.error("outbox unreadable", metadata: ["error": "\(error)"])
            return []
        }
    }

    private func deliverClaimed(_ notification: NotificationRecord) async {
        await deliver(notification)
        lanes.withLock { $0.release(notification) }
    }

    private func deliver(_ notification: NotificationRecord) async {
        var record = notification
        if let gate, let incident = try? await store.incident(id: record.incident) {
            switch await gate.claim(record, incident: incident) {
            case .send:
                break
            case .sentElsewhere:
                record.status = .sent
                record.sentAt = clock.date
                record.lastError = "sent by another node"
                try? await store.update(record)
                logger.info("notification sent by another node", metadata: ["notification.id": "\(record.id ?? 0)"])
                return
            case .deferred(let reason):
                record.lastError = reason
                record.nextAttemptAt = clock.date.addingTimeInterval(1)
                try? await store.update(record)
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
            guard let incident = try? await store.incident(id: record.incident) else { throw DeliveryError.permanent("incident \(record.incident) is gone") }
            record.providerID = try await sender.send(record, incident: incident)
            record.status = .sent
            record.sentAt = clock.date
            record.lastError = nil
            logger.info("notification sent", metadata: metadata.merging(["provider.id": "\(record.providerID ?? "-")"]) { $1 })
        } catch {
            guard !Task.isCancelled else {
                // Shutdown interrupted it: not an attempt; the row stays as it was for the next run.
                logger.info("notification interrupted by shutdown: it is sent after the restart", metadata: metadata)
                return
            }
            failed(&record, error as? DeliveryError ?? .retryable("\(error)"), policy: policy, metadata: metadata)
        }
        Counter(label: "tugboat_notification_attempts_total",
                dimensions: [("channel", record.channel), ("kind", record.kind.rawValue), ("status", record.status.rawValue)]).increment()
        do {
            try await store.update(record)
        } catch {
            logger.error("outbox write failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// A failed attempt: `failed` for good, or the next attempt scheduled.
    private func failed(_ record: inout NotificationRecord, _ error: DeliveryError, policy: RetryPolicy, metadata: Logger.Metadata) {
        record.lastError = error.description
        switch error {
        case .permanent:
            record.status = .failed
            logger.error("notification failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        case .retryable(_, let retryAfter):
            if record.attempts >= policy.maxAttempts {
                record.status = .failed
                record.lastError = "gave up after \(record.attempts) attempts: \(error)"
                logger.error("notification failed", metadata: metadata.merging(["error": "\(record.lastError!)"]) { $1 })
            } else {
                let delay = policy.delay(afterAttempt: record.attempts, retryAfter: retryAfter)
                record.nextAttemptAt = clock.date.addingTimeInterval(delay.seconds)
                logger.warning("notification will be retried", metadata: metadata.merging([
                    "error": "\(error)", "retry.in": "\(DurationParser.format(delay))",
                ]) { $1 })
            }
        }
    }

    private func missingChannel(_ name: String) -> String {
        removedChannels.withLock { $0.contains(name) }
            ? "channel '\(name)' was removed by a config reload" : "channel '\(name)' is not configured"
    }
}
