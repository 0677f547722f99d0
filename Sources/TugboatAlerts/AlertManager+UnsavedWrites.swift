import Foundation
import Logging
import Metrics
import TugboatCore
import TugboatStore

// Pages are never dropped. A write the store refuses (disk full, out of descriptors) is kept in
// memory and tried again with backoff (`StoreWriteRetry`) until the store takes it; the writes
// after it wait behind it, so incidents, outages and pages reach the store — and the outbox — in
// the order they happened. While the store refuses, every attempt logs an error and
// `tugboat_store_unsaved_writes` says how many writes wait.
extension AlertManager {
    /// A write owed to the store.
    enum UnsavedWrite: Sendable {
        /// An incident that fired or resolved: stored, then handed to the grouper.
        case incident(IncidentChange)
        /// A decision of the grouper (a page, an acknowledgement, an outage joined or closed).
        case outage(OutageGrouper.Action)
    }

    struct IncidentChange: Sendable {
        var key: Key
        var rule: AlertRule
        var action: IncidentStateMachine.Action
        var record: IncidentRecord
        /// What the incident says now (the page's text).
        var detail: String
        var resolvedDetail: String?
    }

    /// Carries `write` out now, or keeps it behind the writes the store refused.
    func perform(_ write: UnsavedWrite) {
        guard unsaved.isEmpty else {
            unsaved.append(write)
            countUnsaved()
            return
        }
        var write = write
        do {
            try complete(&write)
        } catch {
            unsaved.append(write)
            storeRefused(error)
        }
    }

    /// Tries the kept writes again, oldest first, once the backoff allows (at every tick).
    func retryUnsaved(at now: Date? = nil) {
        let now = now ?? clock.date
        guard !unsaved.isEmpty, storeRetry.isDue(at: now) else { return }
        while !unsaved.isEmpty {
            var head = unsaved[0]
            do {
                try complete(&head)
                unsaved.removeFirst()
            } catch {
                unsaved[0] = head
                storeRefused(error)
                return
            }
        }
        countUnsaved()
        let refused = storeRetry.succeeded()
        logger.notice("store takes writes again: the pages kept in memory are written", metadata: ["store.refused": "\(refused)"])
    }

    /// At shutdown: one last try; what the store still refuses is logged whole, so nobody's page is lost unseen.
    func flushUnsaved() {
        retryUnsaved(at: Date.distantFuture)
        for case .outage(.page(let page)) in unsaved {
            logger.critical("page not written before shutdown: the store refused it", metadata: [
                "notification.kind": "\(page.kind.rawValue)", "channels": "\(page.channels.joined(separator: ","))",
                "text": "\(OutageText.phrases(page.firing))",
            ])
        }
        for case .incident(let change) in unsaved {
            logger.critical("incident not written before shutdown: the store refused it", metadata: [
                "rule": "\(change.rule.name)", "incident.target": "\(change.key.target)", "incident.state": "\(change.record.state)",
            ])
        }
    }

    private func complete(_ write: inout UnsavedWrite) throws {
        switch write {
        case .incident(var change):
            defer { write = .incident(change) }
            try persist(&change)
        case .outage(let action):
            try carryOut(action)
        }
    }

    /// Stores an incident's change (its id is kept in `change` as soon as it has one), then tells the grouper.
    private func persist(_ change: inout IncidentChange) throws {
        var record = change.record
        if let id = record.id, let stored = try? store.blocking.incident(id: id) {
            // Written meanwhile by a page or an acknowledgement that went before this change.
            record.alertGroup = record.alertGroup ?? stored.alertGroup
            record.flamegraph = record.flamegraph ?? stored.flamegraph
            record.acknowledgedAt = record.acknowledgedAt ?? stored.acknowledgedAt
        }
        if record.id == nil {
            record = try store.blocking.save(record)
            change.record = record
        }
        if record.flamegraph == nil, let base = flameGraphBase(), let id = record.id,
           [.instanceExited, .backendDown].contains(change.rule.condition) {
            // A random key in the link opens it without the bearer token (from an SMS).
            let key = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            record.flamegraph = "\(base)/api/incidents/\(id)/flamegraph?key=\(key)"
        }
        record = try store.blocking.save(record)
        change.record = record
        log(change.action, record: record)
        let resolvedLater = adoptID(of: record, key: change.key)
        if change.action == .fire, !resolvedLater, let tracked = tracked[change.key]?.record, tracked.id == nil || tracked.id == record.id {
            self.tracked[change.key]?.record = record
        }
        guard let id = record.id else { return }
        switch change.action {
        case .fire:
            refreshSilences()  // a window may have opened since the last tick
            apply(grouper.fired(member(rule: change.rule, target: change.key.target, incident: id, detail: change.detail), at: clock.date))
        case .resolve:
            apply(grouper.resolved(incident: id, detail: change.resolvedDetail ?? "condition cleared", at: clock.date))
        }
    }

    /// The changes kept behind this one for the same incident (it resolved before the store took
    /// it) carry its id. Returns whether its resolve is among them.
    private func adoptID(of record: IncidentRecord, key: Key) -> Bool {
        for index in unsaved.indices {
            guard case .incident(var later) = unsaved[index], later.key == key, later.record.id == nil else { continue }
            later.record.id = record.id
            unsaved[index] = .incident(later)
            if later.action == .resolve { return true }
        }
        return false
    }

    private func storeRefused(_ error: any Error) {
        let delay = storeRetry.failed(at: clock.date)
        Counter(label: "tugboat_store_write_failures_total").increment()
        countUnsaved()
        logger.error("store refused a write: pages are kept in memory until it takes them", metadata: [
            "error": "\(error)", "store.unsaved": "\(unsaved.count)", "store.refused": "\(storeRetry.failures)",
            "retry.in": "\(DurationParser.format(delay))",
        ])
    }

    private func countUnsaved() {
        Gauge(label: "tugboat_store_unsaved_writes").record(unsaved.count)
    }
}
