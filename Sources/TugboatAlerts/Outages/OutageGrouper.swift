import Foundation
import TugboatCore

/// Decides who is paged, and when, for firing incidents: one outage, one page.
///
/// Incidents with the same grouping labels that fire within `wait` of each other are one outage
/// and make one page; incidents joining an outage already paged never call again (text channels
/// hear of them with `notify-on-change`, at most once per `interval`); the outage resolves when its
/// last incident does, with one resolved notice. An incident that a firing one explains
/// (``InhibitRule``) pages nobody on its own; a silenced one is recorded as `silenced` and pages
/// if the silence ends while it still fires. Nothing pages before `holdUntil` (start-up grace).
/// Reminders, escalation and acknowledgement belong to the outage.
///
/// Pure: wall-clock time comes in with each call; the ``AlertManager`` persists and sends.
package struct OutageGrouper: Sendable {
    package struct Settings: Sendable {
        /// nil: every incident is its own outage.
        package var grouping: GroupingSettings?
        package var inhibit: [InhibitRule]
        /// Reminders while firing and not acknowledged; zero for none.
        package var repeatInterval: Duration
        /// No page before this (start-up grace).
        package var holdUntil: Date
        /// Channels that carry text (they hear updates and the resolved notice).
        package var textChannels: Set<String>
        /// Channels told of an acknowledgement (PagerDuty, Opsgenie).
        package var acknowledgementChannels: Set<String>

        package init(grouping: GroupingSettings?, inhibit: [InhibitRule], repeatInterval: Duration, holdUntil: Date,
                    textChannels: Set<String>, acknowledgementChannels: Set<String> = []) {
            self.grouping = grouping
            self.inhibit = inhibit
            self.repeatInterval = repeatInterval
            self.holdUntil = holdUntil
            self.textChannels = textChannels
            self.acknowledgementChannels = acknowledgementChannels
        }
    }

    /// Something to tell people about outage `group`.
    package struct Page: Sendable, Equatable {
        package var group: Int
        package var kind: NotificationKind
        package var channels: [String]
        /// The incidents firing now, in the order they joined.
        package var firing: [OutageMember]
        /// The incidents of this outage that have resolved.
        package var cleared: [OutageMember]
        /// Set when a silence or a maintenance window holds the page: recorded, not sent.
        package var silencedBy: String?

        package init(group: Int, kind: NotificationKind, channels: [String], firing: [OutageMember], cleared: [OutageMember], silencedBy: String? = nil) {
            self.group = group
            self.kind = kind
            self.channels = channels
            self.firing = firing
            self.cleared = cleared
            self.silencedBy = silencedBy
        }
    }

    package enum Action: Sendable, Equatable {
        /// The outage pages (or records a silenced page).
        case page(Page)
        /// An incident became part of outage `group` (already paged or not).
        case joined(group: Int, incident: Int64)
        /// Someone acknowledged the outage: its incidents are acknowledged.
        case acknowledged(group: Int, incidents: [Int64], by: String)
        /// The outage is over (paged or not); `paged` tells whether anyone heard of it.
        case closed(group: Int, paged: Bool)
    }

    struct Outage: Sendable {
        var id: Int
        var key: String
        var members: [OutageMember]
        var cleared: [OutageMember] = []
        var openedAt: Date
        var paged: Paged?
        /// Incidents joined or left since the last page or update.
        var changed = false
    }

    struct Paged: Sendable {
        var at: Date
        var lastNotified: Date
        var acknowledged = false
        var escalated = false
        /// Every page so far was held by a silence: a real one is still owed.
        var silencedOnly: Bool
    }

    package var settings: Settings
    /// Active silences and open maintenance windows, kept current by the caller.
    package var silences: [Silence] = []
    private var outages: [Int: Outage] = [:]
    private var nextID = 1

    package init(settings: Settings) {
        self.settings = settings
    }

    /// The open outage holding `incident`, if any.
    package func group(of incident: Int64) -> Int? {
        outages.values.first { $0.members.contains { $0.incident == incident } }?.id
    }

    /// The outage an incident belongs to: its grouping labels (`pool=default`), or its rule and
    /// target when grouping is off.
    package func key(for member: OutageMember) -> String {
        guard let grouping = settings.grouping else { return "rule=\(member.rule),target=\(member.target)" }
        return grouping.by.map { "\($0)=\(member.label($0) ?? "")" }.joined(separator: ",")
    }

    // MARK: Events

    /// An incident fired.
    package mutating func fired(_ member: OutageMember, at now: Date) -> [Action] {
        let key = key(for: member)
        if let id = outages.values.first(where: { $0.key == key })?.id {
            outages[id]!.members.append(member)
            outages[id]!.changed = true
            return [.joined(group: id, incident: member.incident)] + tick(at: now)
        }
        let id = nextID
        nextID += 1
        outages[id] = Outage(id: id, key: key, members: [member], openedAt: now)
        return [.joined(group: id, incident: member.incident)] + tick(at: now)
    }

    /// An outage paged before a restart: it continues without paging again.
    package mutating func restore(_ members: [OutageMember], firedAt: Date, acknowledged: Bool, escalated: Bool) -> Int {
        let id = nextID
        nextID += 1
        let key = members.first.map(key(for:)) ?? ""
        outages[id] = Outage(id: id, key: key, members: members, openedAt: firedAt,
                             paged: Paged(at: firedAt, lastNotified: firedAt, acknowledged: acknowledged, escalated: escalated, silencedOnly: false))
        return id
    }

    /// The incident's detail changed while it fires (the page text uses the latest).
    package mutating func updated(incident: Int64, detail: String) {
        guard let id = group(of: incident), let index = outages[id]!.members.firstIndex(where: { $0.incident == incident }) else { return }
        outages[id]!.members[index].detail = detail
    }

    /// A config reload edited the rules: open outages page their incidents' new channels (and
    /// escalate to the new escalation) from now on. Members of rules not in `rules` keep theirs.
    package mutating func replaceRules(_ rules: [String: AlertRule]) {
        func follow(_ member: inout OutageMember) {
            guard let rule = rules[member.rule] else { return }
            member.channels = rule.channels
            member.escalation = rule.escalate
        }
        for id in Array(outages.keys) {
            for index in outages[id]!.members.indices { follow(&outages[id]!.members[index]) }
            for index in outages[id]!.cleared.indices { follow(&outages[id]!.cleared[index]) }
        }
    }

    /// An incident resolved.
    package mutating func resolved(incident: Int64, detail: String, at now: Date) -> [Action] {
        guard let id = group(of: incident), var outage = outages[id],
              let index = outage.members.firstIndex(where: { $0.incident == incident }) else { return [] }
        var member = outage.members.remove(at: index)
        member.detail = detail
        outage.cleared.append(member)
        outage.changed = true
        outages[id] = outage
        guard outage.members.isEmpty else { return tick(at: now) }
        outages[id] = nil
        guard let paged = outage.paged else { return [.closed(group: id, paged: false)] }
        let everyone = outage.cleared
        var channels = everyone.flatMap(\.channels)
        if paged.escalated { channels += everyone.flatMap { $0.escalation?.channels ?? [] } }
        let page = Page(group: id, kind: .resolve, channels: unique(channels.filter(settings.textChannels.contains)),
                        firing: [], cleared: everyone, silencedBy: paged.silencedOnly ? "the silence that held its page" : nil)
        return [.page(page), .closed(group: id, paged: !paged.silencedOnly)]
    }

    /// A person acknowledged the outage: reminders and escalation stop.
    package mutating func acknowledge(group id: Int, by who: String) -> [Action] {
        guard var outage = outages[id], var paged = outage.paged, !paged.acknowledged else { return [] }
        paged.acknowledged = true
        outage.paged = paged
        outages[id] = outage
        var actions: [Action] = [.acknowledged(group: id, incidents: outage.members.map(\.incident), by: who)]
        var told = outage.members.flatMap(\.channels)
        if paged.escalated { told += outage.members.flatMap { $0.escalation?.channels ?? [] } }
        let channels = unique(told.filter(settings.acknowledgementChannels.contains))
        if !channels.isEmpty, !paged.silencedOnly {
            actions.append(.page(Page(group: id, kind: .acknowledge, channels: channels, firing: outage.members, cleared: outage.cleared)))
        }
        return actions
    }

    /// Time passed: page outages whose wait is over, remind, escalate, send updates.
    package mutating func tick(at now: Date) -> [Action] {
        var actions: [Action] = []
        for id in outages.keys.sorted() {
            guard var outage = outages[id] else { continue }
            actions += advance(&outage, at: now)
            outages[id] = outage
        }
        return actions
    }

    private func advance(_ outage: inout Outage, at now: Date) -> [Action] {
        let wait = settings.grouping?.wait ?? .zero
        let pageable = outage.members.filter { !isInhibited($0) }
        let unsilenced = pageable.filter { silence(for: $0, at: now) == nil }
        guard var paged = outage.paged, !paged.silencedOnly else {
            // Not paged yet (or only a silenced page so far).
            guard now >= max(outage.openedAt.addingTimeInterval(wait.seconds), settings.holdUntil), !pageable.isEmpty else { return [] }
            let silencedBy = unsilenced.isEmpty ? silence(for: pageable[0], at: now) : nil
            if outage.paged != nil && silencedBy != nil { return [] }  // still silenced: recorded once
            let channels = unique((unsilenced.isEmpty ? pageable : unsilenced).flatMap(\.channels))
            outage.paged = Paged(at: now, lastNotified: now, silencedOnly: silencedBy != nil)
            outage.changed = false
            return [.page(Page(group: outage.id, kind: .trigger, channels: channels, firing: outage.members, cleared: outage.cleared, silencedBy: silencedBy))]
        }
        var actions: [Action] = []
        if !paged.acknowledged, !unsilenced.isEmpty {
            if let after = outage.members.compactMap({ $0.escalation?.after }).min(), !paged.escalated, now.timeIntervalSince(paged.at) >= after.seconds {
                paged.escalated = true
                let channels = unique(outage.members.flatMap { $0.escalation?.channels ?? [] })
                actions.append(.page(Page(group: outage.id, kind: .escalation, channels: channels, firing: outage.members, cleared: outage.cleared)))
            }
            if settings.repeatInterval > .zero, now.timeIntervalSince(paged.lastNotified) >= settings.repeatInterval.seconds {
                paged.lastNotified = now
                outage.changed = false
                actions.append(.page(Page(group: outage.id, kind: .repeat, channels: unique(unsilenced.flatMap(\.channels)),
                                          firing: outage.members, cleared: outage.cleared)))
            }
        }
        if outage.changed, let grouping = settings.grouping, grouping.notifyOnChange,
           now.timeIntervalSince(paged.lastNotified) >= grouping.interval.seconds {
            paged.lastNotified = now
            outage.changed = false
            let channels = unique(outage.members.flatMap(\.channels).filter(settings.textChannels.contains))
            if !channels.isEmpty {
                actions.append(.page(Page(group: outage.id, kind: .update, channels: channels, firing: outage.members, cleared: outage.cleared)))
            }
        }
        outage.paged = paged
        return actions
    }

    // MARK: Rules

    /// Whether another firing incident of the same pool explains this one.
    func isInhibited(_ member: OutageMember) -> Bool {
        let inhibiting = settings.inhibit.filter { $0.targets.contains(where: member.isNamed) }
        guard !inhibiting.isEmpty else { return false }
        return outages.values.contains { outage in
            outage.members.contains { source in
                source.incident != member.incident && source.pool == member.pool
                    && inhibiting.contains { source.isNamed($0.source) }
            }
        }
    }

    func silence(for member: OutageMember, at now: Date) -> String? {
        silences.first { $0.isActive(at: now) && $0.matches(member) }?.name
    }

    private func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
