import Foundation
import Logging
import TugboatCore
import TugboatStore

// Carrying out the ``OutageGrouper``'s decisions: outages stored, pages written to the outbox.
extension AlertManager {
    /// Carries out the grouper's decisions in order; what the store refuses is kept and retried
    /// (`AlertManager+UnsavedWrites`).
    func apply(_ actions: [OutageGrouper.Action]) {
        for action in actions { perform(.outage(action)) }
    }

    func carryOut(_ action: OutageGrouper.Action) throws {
        let now = clock.date
        switch action {
        case .joined(let group, let incident):
            // Incidents joining an outage that has paged carry its code from now on.
            guard let outage = outageRecords[group], var record = incidentRecord(incident), record.alertGroup == nil else { return }
            record.alertGroup = outage.id
            save(record)
        case .page(let page):
            try write(page, at: now)
        case .acknowledged(let group, let incidents, let who):
            guard var outage = outageRecords[group] else { return }
            outage.state = .acknowledged
            outage.acknowledgedAt = now
            outage.acknowledgedBy = who
            let changed = incidents.compactMap(incidentRecord).map { record -> IncidentRecord in
                var record = record
                record.state = .acknowledged
                record.acknowledgedAt = now
                return record
            }
            outageRecords[group] = try store.blocking.save(outage: outage, incidents: changed)
            for record in changed { remember(record) }
            logger.info("outage acknowledged", metadata: ["outage.id": "\(outage.id ?? 0)", "acknowledged.by": "\(who)"])
        case .closed(let group, _):
            outageRecords[group] = nil
        }
    }

    /// Stores the outage (created on its first page) and one notification per channel and recipient.
    private func write(_ page: OutageGrouper.Page, at now: Date) throws {
        let members = page.firing + page.cleared
        guard let lead = members.first?.incident else { return }
        var outage = outageRecords[page.group] ?? AlertGroupRecord(
            key: grouper.key(for: members[0]),
            state: .firing, summary: "", startedAt: members.compactMap { incidentRecord($0.incident)?.startedAt }.min() ?? now)
        switch page.kind {
        case .trigger:
            outage.firedAt = now
            outage.silenced = page.silencedBy != nil
            outage.summary = OutageText.phrases(page.firing)
        case .resolve:
            outage.state = .resolved
            outage.resolvedAt = now
        default:
            outage.summary = OutageText.phrases(page.firing)
        }
        let incidents = page.kind == .trigger ? page.firing.compactMap { incidentRecord($0.incident) } : []
        let title = OutageText.title(groupKey: outage.key)
        var composedText = ""
        let saved = try store.blocking.save(outage: outage, incidents: incidents) { stored in
            var text = OutageText.compose(page, code: stored.id ?? 0, title: title, acknowledgedBy: stored.acknowledgedBy)
            if page.kind != .resolve, let link = page.firing.lazy.compactMap({ self.incidentRecord($0.incident)?.flamegraph }).first {
                text += " Flame graph: \(link)"
            }
            composedText = text
            return page.channels.flatMap { channel in
                self.recipients(channel).map { recipient in
                    var notification = NotificationRecord(incident: lead, channel: channel, recipient: recipient,
                                                          kind: page.kind, text: text, at: now)
                    if let silencedBy = page.silencedBy {
                        notification.status = .silenced
                        notification.lastError = "silenced by \(silencedBy)"
                    }
                    return notification
                }
            }
        }
        outageRecords[page.group] = page.kind == .resolve ? nil : saved
        for var record in incidents {
            record.alertGroup = saved.id
            remember(record)
        }
        let metadata: Logger.Metadata = [
            "outage.id": "\(saved.id ?? 0)", "notification.kind": "\(page.kind.rawValue)",
            "channels": "\(page.channels.joined(separator: ","))", "incidents": "\(members.count)", "text": "\(composedText)",
        ]
        if let silencedBy = page.silencedBy {
            logger.info("page silenced", metadata: metadata.merging(["silenced.by": "\(silencedBy)"]) { $1 })
        } else {
            logger.warning("outage page", metadata: metadata)
            if !page.channels.isEmpty { dispatcher.notify() }
        }
    }

    /// One notification per recipient: Twilio channels call or text each number in `to`.
    private func recipients(_ channel: String) -> [String?] {
        switch config.channels[channel] {
        case .twilioCall(let twilio), .twilioSMS(let twilio): twilio.to
        default: [nil]
        }
    }

    func incidentRecord(_ id: Int64) -> IncidentRecord? {
        tracked.values.first { $0.record?.id == id }?.record ?? (try? store.blocking.incident(id: id)) ?? nil
    }

    private func save(_ record: IncidentRecord) {
        do {
            remember(try store.blocking.save(record))
        } catch {
            logger.error("incident could not be saved", metadata: ["incident.id": "\(record.id ?? 0)", "error": "\(error)"])
        }
    }

    /// Keeps the tracked copy of an open incident current.
    private func remember(_ record: IncidentRecord) {
        let key = Key(rule: record.rule, target: record.target)
        guard tracked[key]?.record?.id == record.id else { return }
        tracked[key]?.record = record
    }
}

// MARK: Acknowledging from the phone

extension AlertManager: PageAcknowledging {
    package func acknowledge(code: Int64, by who: String) async -> AcknowledgeOutcome {
        if let (group, outage) = outageRecords.first(where: { $0.value.id == code }) {
            let title = "\(OutageText.title(groupKey: outage.key)): \(outage.summary)"
            let actions = grouper.acknowledge(group: group, by: who)
            guard !actions.isEmpty else { return .alreadyAcknowledged(title) }
            apply(actions)
            return .acknowledged(title)
        }
        guard let stored = try? store.blocking.outage(id: code) else { return .unknown }
        return .resolved("\(OutageText.title(groupKey: stored.key)): \(stored.summary)")
    }
}
