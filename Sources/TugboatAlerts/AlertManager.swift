import Foundation
import Logging
import Metrics
import ServiceLifecycle
import TugboatCore
import TugboatStore

/// Consumes signals, keeps one ``IncidentStateMachine`` per rule and target, persists incidents and
/// writes their notifications into the outbox in the same transaction, then wakes the dispatcher.
public actor AlertManager: Service {
    struct Key: Hashable { var rule: String; var target: String }

    struct Tracked {
        var machine: IncidentStateMachine
        var record: IncidentRecord?
        var detail: String
        var pendingSince: Date?
        var escalated = false
    }

    private let config: AlertsConfig
    private let rules: [String: AlertRule]
    private let store: Store
    private let signals: SignalBus
    private let dispatcher: OutboxDispatcher
    private let logger: Logger
    private let flameGraphBase: @Sendable () -> String?
    private var evaluator: ConditionEvaluator
    private var tracked: [Key: Tracked] = [:]
    private let clock = ContinuousClock()

    /// - Parameter flameGraphBase: with crash forensics on, the admin API's base URL: incidents about
    ///   one instance (`instance-exited`, `backend-down`) then link `<base>/api/incidents/<id>/flamegraph?key=…`
    ///   in their pages and webhook body.
    public init(config: AlertsConfig, store: Store, signals: SignalBus, dispatcher: OutboxDispatcher, logger: Logger,
                flameGraphBase: @escaping @Sendable () -> String? = { nil }) {
        self.flameGraphBase = flameGraphBase
        self.config = config
        self.rules = Dictionary(uniqueKeysWithValues: config.rules.map { ($0.name, $0) })
        self.store = store
        self.signals = signals
        self.dispatcher = dispatcher
        self.logger = logger
        self.evaluator = ConditionEvaluator(rules: config.rules)
    }

    public func run() async throws {
        let stream = signals.subscribe()
        restoreOpenIncidents()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await signal in stream.cancelOnGracefulShutdown() {
                    await self.handle(signal)
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(200)) }
                    await self.tick()
                }
            }
        }
    }

    /// Incidents still open from a previous run continue without paging again.
    private func restoreOpenIncidents() {
        guard let open = try? store.openIncidents() else { return }
        for record in open {
            guard let rule = rules[record.rule], record.state != "pending" else { continue }
            let machine = IncidentStateMachine(policy: policy(for: rule), restoringFiringAt: clock.now,
                                               acknowledged: record.state == "acknowledged")
            tracked[Key(rule: record.rule, target: record.target)] = Tracked(machine: machine, record: record, detail: record.summary)
            logger.info("incident restored", metadata: ["incident.id": "\(record.id ?? 0)", "rule": "\(record.rule)"])
        }
    }

    public func handle(_ signal: Signal) {
        for observation in evaluator.evaluate(signal) {
            let key = Key(rule: observation.rule, target: observation.target)
            guard let rule = rules[observation.rule] else { continue }
            var entry = tracked[key] ?? Tracked(machine: IncidentStateMachine(policy: policy(for: rule)), detail: observation.detail)
            if observation.active { entry.detail = observation.detail }
            if observation.active, case .inactive = entry.machine.phase { entry.pendingSince = Date() }
            let actions = entry.machine.observe(active: observation.active, at: clock.now)
            let resolvedDetail = observation.active ? nil : observation.detail
            tracked[key] = entry
            apply(actions, key: key, rule: rule, resolvedDetail: resolvedDetail)
        }
    }

    public func tick() {
        let now = clock.now
        for key in Array(tracked.keys) {
            guard var entry = tracked[key], let rule = rules[key.rule] else { continue }
            let actions = entry.machine.tick(at: now)
            tracked[key] = entry
            if !actions.isEmpty { apply(actions, key: key, rule: rule, resolvedDetail: nil) }
        }
    }

    /// `POST /api/incidents/{id}/ack`: stops reminders and escalation. False if the incident is not open.
    public func acknowledge(incident id: Int64) -> Bool {
        guard let (key, entry) = tracked.first(where: { $0.value.record?.id == id }), let rule = rules[key.rule] else { return false }
        var updated = entry
        let actions = updated.machine.acknowledge()
        tracked[key] = updated
        apply(actions, key: key, rule: rule, resolvedDetail: nil)
        return true
    }

    private func policy(for rule: AlertRule) -> IncidentStateMachine.Policy {
        IncidentStateMachine.Policy(rule: rule, repeatInterval: config.repeatInterval)
    }

    private func apply(_ actions: [IncidentStateMachine.Action], key: Key, rule: AlertRule, resolvedDetail: String?) {
        guard var entry = tracked[key] else { return }
        let now = Date()
        for action in actions {
            var record = entry.record ?? IncidentRecord(rule: rule.name, target: key.target, state: "firing",
                                                        summary: entry.detail, startedAt: entry.pendingSince ?? now)
            var channels: [String] = []
            var kind = ""
            switch action {
            case .fire:
                record.state = "firing"
                record.firedAt = now
                record.summary = entry.detail
                channels = rule.channels
                kind = "trigger"
            case .remind:
                channels = rule.channels
                kind = "repeat"
            case .escalate:
                channels = rule.escalate?.channels ?? []
                entry.escalated = true
                kind = "escalation"
            case .acknowledged:
                record.state = "acknowledged"
                record.acknowledgedAt = now
            case .resolve:
                record.state = "resolved"
                record.resolvedAt = now
                let escalationChannels = entry.escalated ? (rule.escalate?.channels ?? []) : []
                channels = (rule.channels + escalationChannels.filter { !rule.channels.contains($0) })
                    .filter { config.channels[$0]?.carriesText ?? false }
                kind = "resolve"
            }
            do {
                // The incident gets its id on first save; messages name it, so save before composing.
                if record.id == nil { record = try store.save(record) }
                if record.flamegraph == nil, let base = flameGraphBase(), let id = record.id,
                   [.instanceExited, .backendDown].contains(rule.condition) {
                    // A random key in the link opens it without the bearer token (from an SMS).
                    let key = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
                    record.flamegraph = "\(base)/api/incidents/\(id)/flamegraph?key=\(key)"
                }
                let detail = action == .resolve ? (resolvedDetail ?? "condition cleared") : entry.detail
                var text = Message.compose(incident: record, kind: kind, detail: detail)
                if let flamegraph = record.flamegraph, action != .resolve { text += " Flame graph: \(flamegraph)" }
                let outgoing = channels.flatMap { makeNotifications(channel: $0, incident: record, kind: kind, text: text, at: now) }
                record = try store.save(record, notifications: outgoing)
                entry.record = action == .resolve ? nil : record
                log(action, record: record, channels: channels)
                if !outgoing.isEmpty { dispatcher.notify() }
            } catch {
                logger.error("incident could not be saved", metadata: ["rule": "\(rule.name)", "error": "\(error)"])
            }
        }
        if case .inactive = entry.machine.phase, entry.record == nil {
            tracked[key] = nil
        } else {
            tracked[key] = entry
        }
    }

    /// One notification per recipient: Twilio channels call or text each number in `to`.
    private func makeNotifications(channel: String, incident: IncidentRecord, kind: String, text: String, at now: Date) -> [NotificationRecord] {
        let recipients: [String?]
        switch config.channels[channel] {
        case .twilioCall(let twilio), .twilioSMS(let twilio): recipients = twilio.to
        default: recipients = [nil]
        }
        return recipients.map { NotificationRecord(incident: incident.id ?? 0, channel: channel, recipient: $0, kind: kind, text: text, at: now) }
    }

    private func log(_ action: IncidentStateMachine.Action, record: IncidentRecord, channels: [String]) {
        let metadata: Logger.Metadata = [
            "incident.id": "\(record.id ?? 0)", "rule": "\(record.rule)", "incident.target": "\(record.target)",
            "incident.state": "\(record.state)", "channels": "\(channels.joined(separator: ","))",
        ]
        Counter(label: "tugboat_incident_transitions_total", dimensions: [("rule", record.rule), ("action", "\(action)")]).increment()
        switch action {
        case .fire: logger.warning("incident firing", metadata: metadata)
        case .resolve: logger.info("incident resolved", metadata: metadata)
        default: logger.info("incident \(action)", metadata: metadata)
        }
    }
}
