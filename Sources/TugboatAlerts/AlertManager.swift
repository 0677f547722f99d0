import Foundation
import Logging
import Metrics
import ServiceLifecycle
import TugboatCore
import TugboatStore

/// Consumes signals, keeps one ``IncidentStateMachine`` per rule and target, persists incidents,
/// and hands firing ones to the ``OutageGrouper``, which decides who is paged: one outage, one
/// page. Every page is written into the outbox in the same transaction as the outage it is about,
/// then the dispatcher is woken.
package actor AlertManager: Service {
    struct Key: Hashable { var rule: String; var target: String }

    struct Tracked {
        var machine: IncidentStateMachine
        var record: IncidentRecord?
        var detail: String
        var pendingSince: Date?
    }

    /// Every incident belongs to this pool (one pool per Tugboat today).
    static let pool = "default"

    /// Replaced by a config reload (``replace(config:)``).
    var config: AlertsConfig
    var rules: [String: AlertRule]
    let store: Store
    private let signals: SignalBus
    let dispatcher: OutboxDispatcher
    let logger: Logger
    let flameGraphBase: @Sendable () -> String?
    var evaluator: ConditionEvaluator
    var tracked: [Key: Tracked] = [:]
    var grouper: OutageGrouper
    /// The stored outage of each of the grouper's outages that has paged.
    var outageRecords: [Int: AlertGroupRecord] = [:]
    var flaps: FlapDetector
    var silenceRecords: [SilenceRecord] = []
    let silenceBook: any SilenceBook
    let silenceReload: Duration
    var silenceSync = SilenceSync()
    /// Every time the manager reads or waits on (tests pass a manual one).
    let clock: ServiceClock
    /// When this manager started: `startup-grace` counts from here.
    let startedAt: Date
    /// Writes the store refused, in order, kept until it takes them (`AlertManager+UnsavedWrites`).
    var unsaved: [UnsavedWrite] = []
    var storeRetry: StoreWriteRetry

    /// The manager runs on the store's own thread, not on the cooperative pool: it reads and
    /// writes the store with blocking calls (``BlockingStore``) in the middle of its decisions, so
    /// that a transition, its outage and its pages are one step no other call interleaves with.
    nonisolated package var unownedExecutor: UnownedSerialExecutor { StoreThread.shared.asUnownedSerialExecutor() }

    /// - Parameter flameGraphBase: with crash forensics on, the admin API's base URL: incidents about
    ///   one instance (`instance-exited`, `backend-down`) then link `<base>/api/incidents/<id>/flamegraph?key=…`
    ///   in their pages and webhook body.
    /// - Parameter storeRetry: the backoff between attempts to write what the store refused.
    /// - Parameter startedAt: when Tugboat started (`startup-grace` counts from here); now by default.
    /// - Parameter clock: the `for` windows, the outages' waits and reminders, the ticks, the times stored.
    /// - Parameter silenceBook: where silences live; by default this node's `store`. Several nodes
    ///   pass one shared book: it is re-read every `silenceReload` to pick up other nodes' changes.
    package init(config: AlertsConfig, store: Store, signals: SignalBus, dispatcher: OutboxDispatcher, logger: Logger,
                flameGraphBase: @escaping @Sendable () -> String? = { nil }, startedAt: Date? = nil, clock: ServiceClock = .continuous,
                silenceBook: (any SilenceBook)? = nil, silenceReload: Duration = .seconds(1),
                storeRetry: OutboxDispatcher.RetryPolicy = .init(firstDelay: .milliseconds(500), maxDelay: .seconds(30))) {
        self.storeRetry = StoreWriteRetry(policy: storeRetry)
        self.flameGraphBase = flameGraphBase
        self.silenceBook = silenceBook ?? StoreSilenceBook(store: store)
        self.silenceReload = silenceReload
        self.config = config
        self.rules = Dictionary(uniqueKeysWithValues: config.rules.map { ($0.name, $0) })
        self.store = store
        self.signals = signals
        self.dispatcher = dispatcher
        self.logger = logger
        self.evaluator = ConditionEvaluator(rules: config.rules)
        self.flaps = FlapDetector(settings: config.flapping)
        self.clock = clock
        let startedAt = startedAt ?? clock.date
        self.startedAt = startedAt
        self.grouper = OutageGrouper(settings: Self.grouperSettings(config, startedAt: startedAt))
    }

    /// What the grouper needs of `alerts`: grouping, inhibition, reminders, the start-up grace,
    /// and which channels carry text or hear of acknowledgements.
    static func grouperSettings(_ config: AlertsConfig, startedAt: Date) -> OutageGrouper.Settings {
        .init(grouping: config.group, inhibit: config.inhibit, repeatInterval: config.repeatInterval,
              holdUntil: startedAt.addingTimeInterval(config.startupGrace.seconds),
              textChannels: Set(config.channels.filter { $0.value.carriesText }.keys),
              acknowledgementChannels: Set(config.channels.filter { $0.value.receivesAcknowledgements }.keys))
    }

    package func run() async throws {
        let stream = signals.subscribe()
        await reloadSilences()
        restore()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await signal in stream.cancelOnGracefulShutdown() {
                    await self.handle(signal)
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await self.clock.sleep(for: .milliseconds(200)) }
                    await self.tick()
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await self.clock.sleep(for: self.silenceReload) }
                    await self.reloadSilences()
                }
            }
        }
        flushUnsaved()
    }

    /// Incidents and outages still open from a previous run continue without paging again; an
    /// incident that fired but had not paged yet pages once its outage's wait is over. An incident
    /// of a rule no longer in the config resolves, as on a reload (``replace(config:)``).
    func restore() {
        refreshSilences()
        guard let open = try? store.blocking.openIncidents() else { return }
        let outages = Dictionary(uniqueKeysWithValues: ((try? store.blocking.openOutages()) ?? []).compactMap { record in record.id.map { ($0, record) } })
        var members: [Int64: [OutageMember]] = [:]
        var gone: [(Key, AlertRule)] = []
        for record in open {
            guard record.state != .pending, let id = record.id else { continue }
            let key = Key(rule: record.rule, target: record.target)
            let known = rules[record.rule]
            var rule = known ?? AlertRule(name: record.rule, condition: .noHealthyBackends)
            if known == nil {
                guard let outage = record.alertGroup, outages[outage] != nil else {
                    resolveUntracked(record, detail: Self.goneDetail(record.rule))
                    continue
                }
                // What the removed rule watched is not stored: this stand-in only carries the
                // incident to its end, telling the channels its outage paged.
                rule.channels = pagedChannels(outage: outage)
                gone.append((key, rule))
            }
            tracked[key] = Tracked(machine: IncidentStateMachine(policy: .init(rule: rule), restoringFiringAt: clock.now),
                                   record: record, detail: record.summary)
            let member = self.member(rule: rule, target: record.target, incident: id, detail: record.summary)
            if let outage = record.alertGroup, outages[outage] != nil {
                members[outage, default: []].append(member)
            } else {
                apply(grouper.fired(member, at: clock.date))
            }
            logger.info("incident restored", metadata: ["incident.id": "\(id)", "rule": "\(record.rule)"])
        }
        for (id, list) in members.sorted(by: { $0.key < $1.key }) {
            guard let outage = outages[id] else { continue }
            let acknowledged = outage.state == .acknowledged
            let local = grouper.restore(list, firedAt: outage.firedAt ?? outage.startedAt, acknowledged: acknowledged, escalated: acknowledged)
            outageRecords[local] = outage
        }
        for (key, rule) in gone { retire(key, rule: rule, detail: Self.goneDetail(rule.name)) }
        restorePending()
    }

    package func handle(_ signal: Signal) {
        observe(evaluator.evaluate(signal))
    }

    /// Feeds each rule's incident state machine what the evaluator saw.
    func observe(_ observations: [ConditionEvaluator.Observation]) {
        for observation in observations {
            guard let rule = rules[observation.rule] else { continue }
            if absorbed(observation, rule: rule) { continue }
            let key = Key(rule: observation.rule, target: observation.target)
            var entry = tracked[key] ?? Tracked(machine: IncidentStateMachine(policy: .init(rule: rule)), detail: observation.detail)
            if observation.active {
                entry.detail = observation.detail
                if let id = entry.record?.id { grouper.updated(incident: id, detail: observation.detail) }
            }
            if observation.active, case .inactive = entry.machine.phase { entry.pendingSince = clock.date }
            let wasPending = entry.machine.isPending
            let actions = entry.machine.observe(active: observation.active, at: clock.now)
            tracked[key] = entry
            persistPending(key, entry, wasPending: wasPending)
            for action in actions { incident(action, key: key, rule: rule, resolvedDetail: observation.active ? nil : observation.detail) }
        }
    }

    package func tick() {
        retryUnsaved()
        let now = clock.now
        for key in Array(tracked.keys) {
            guard var entry = tracked[key], let rule = rules[key.rule] else { continue }
            let wasPending = entry.machine.isPending
            let actions = entry.machine.tick(at: now)
            tracked[key] = entry
            persistPending(key, entry, wasPending: wasPending)
            for action in actions { incident(action, key: key, rule: rule, resolvedDetail: nil) }
        }
        refreshSilences()
        apply(grouper.tick(at: clock.date))
    }

    /// `POST /api/incidents/{id}/ack`: acknowledges the outage the incident is part of.
    /// False if the incident is not open or has not paged.
    package enum IncidentAcknowledgement: Sendable, Equatable { case acknowledged, alreadyAcknowledged, notFiring }

    /// `POST /api/incidents/{id}/ack`: acknowledges the incident's outage (once).
    package func acknowledge(incident id: Int64) -> IncidentAcknowledgement {
        guard let group = grouper.group(of: id), outageRecords[group] != nil else { return .notFiring }
        let actions = grouper.acknowledge(group: group, by: "api")
        guard !actions.isEmpty else { return .alreadyAcknowledged }
        apply(actions)
        return .acknowledged
    }

    // MARK: Incidents

    /// An instance that exited and the backend that went down with it are one incident: whichever
    /// came first takes the other's news.
    private func absorbed(_ observation: ConditionEvaluator.Observation, rule: AlertRule) -> Bool {
        let partner: AlertCondition
        switch rule.condition {
        case .backendDown: partner = .instanceExited
        case .instanceExited: partner = .backendDown
        default: return false
        }
        guard let (key, entry) = tracked.first(where: { key, entry in
            key.target == observation.target && rules[key.rule]?.condition == partner && entry.machine.phase != .inactive
        }) else { return false }
        // An open incident of this very rule for the target carries on as it is.
        if tracked[Key(rule: rule.name, target: observation.target)].map({ $0.machine.phase != .inactive }) == true { return false }
        var host = entry
        if observation.active, !host.detail.contains(observation.detail) {
            host.detail += "; " + observation.detail
            if var record = host.record {
                record.summary = host.detail
                host.record = (try? store.blocking.save(record)) ?? record
                if let id = record.id { grouper.updated(incident: id, detail: host.detail) }
            }
        }
        // An exited instance's incident stays open while its backend is down.
        if partner == .instanceExited {
            let actions = host.machine.observe(active: observation.active, at: clock.now)
            tracked[key] = host
            for action in actions { incident(action, key: key, rule: rules[key.rule]!, resolvedDetail: nil) }
        } else {
            tracked[key] = host
        }
        return true
    }

    func incident(_ action: IncidentStateMachine.Action, key: Key, rule: AlertRule, resolvedDetail: String?) {
        guard var entry = tracked[key] else { return }
        let now = clock.date
        var record = entry.record ?? IncidentRecord(rule: rule.name, target: key.target, state: .firing,
                                                    summary: entry.detail, startedAt: entry.pendingSince ?? now)
        let flapKey = "\(key.rule)|\(key.target)"
        switch action {
        case .fire:
            if flaps.record(flapKey, at: now) {
                entry.machine.holdOpen(quietFor: config.flapping.window)
                entry.detail += " (flapping: changed state \(config.flapping.changes)+ times within \(DurationParser.format(config.flapping.window)))"
            }
            record.state = .firing
            record.firedAt = now
            record.summary = entry.detail
        case .resolve:
            _ = flaps.record(flapKey, at: now)
            record.state = .resolved
            record.resolvedAt = now
        }
        entry.record = action == .resolve ? nil : record
        tracked[key] = action == .resolve && entry.machine.phase == .inactive ? nil : entry
        perform(.incident(IncidentChange(key: key, rule: rule, action: action, record: record, detail: entry.detail,
                                         resolvedDetail: resolvedDetail)))
    }

    func member(rule: AlertRule, target: String, incident: Int64, detail: String) -> OutageMember {
        OutageMember(incident: incident, rule: rule.name, condition: rule.condition.name, target: target, pool: Self.pool,
                     detail: detail, channels: rule.channels, escalation: rule.escalate)
    }

    func log(_ action: IncidentStateMachine.Action, record: IncidentRecord) {
        let metadata: Logger.Metadata = [
            "incident.id": "\(record.id ?? 0)", "rule": "\(record.rule)", "incident.target": "\(record.target)",
            "incident.state": "\(record.state)",
        ]
        Counter(label: "tugboat_incident_transitions_total", dimensions: [("rule", record.rule), ("action", "\(action)")]).increment()
        switch action {
        case .fire: logger.warning("incident firing", metadata: metadata)
        case .resolve: logger.info("incident resolved", metadata: metadata)
        }
    }
}
