import Foundation
import Testing
import TugboatAlerts
import TugboatCore

@Suite("Outage grouper: one outage, one page")
struct OutageGrouperTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    func grouper(grouping: GroupingSettings? = GroupingSettings(), inhibit: [InhibitRule] = InhibitRule.defaults,
                 repeatInterval: Duration = .zero, hold: Double = 0) -> OutageGrouper {
        OutageGrouper(settings: .init(grouping: grouping, inhibit: inhibit, repeatInterval: repeatInterval, holdUntil: at(hold),
                                      textChannels: ["sms", "slack"], acknowledgementChannels: ["pd"]))
    }

    func member(_ id: Int64, _ condition: String, target: String = "pool", rule: String? = nil,
                channels: [String] = ["call", "sms"], escalation: AlertRule.Escalation? = nil) -> OutageMember {
        OutageMember(incident: id, rule: rule ?? condition, condition: condition, target: target, pool: "default",
                     detail: "\(condition) \(target)", channels: channels, escalation: escalation)
    }

    func pages(_ actions: [OutageGrouper.Action]) -> [OutageGrouper.Page] {
        actions.compactMap { if case .page(let page) = $0 { page } else { nil } }
    }

    @Test("incidents of one pool within `wait` make one page naming them all; later ones never call again")
    func groupsWithinWait() {
        var grouper = grouper()
        #expect(pages(grouper.fired(member(1, "backend-down", target: "127.0.0.1:9001"), at: at(0))).isEmpty)
        #expect(pages(grouper.fired(member(2, "backend-down", target: "127.0.0.1:9002"), at: at(2))).isEmpty)
        #expect(pages(grouper.fired(member(3, "no-healthy-backends"), at: at(3))).isEmpty)
        #expect(pages(grouper.tick(at: at(9.9))).isEmpty)
        let page = pages(grouper.tick(at: at(10)))
        #expect(page.count == 1)
        #expect(page.first?.kind == .trigger)
        #expect(page.first?.channels == ["call", "sms"])
        #expect(page.first?.firing.map(\.incident) == [1, 2, 3])
        #expect(OutageText.phrases(page[0].firing) == "2 backends down, no healthy backend")
        // The front goes down a minute later: same outage, no call.
        #expect(pages(grouper.fired(member(4, "down", target: "front"), at: at(60))).isEmpty)
        #expect(pages(grouper.tick(at: at(600))).isEmpty)
    }

    @Test("the outage resolves when its last incident does: one resolved notice, to text channels only")
    func resolvesOnce() {
        var grouper = grouper()
        _ = grouper.fired(member(1, "backend-down", target: "a"), at: at(0))
        _ = grouper.fired(member(2, "down", target: "front"), at: at(1))
        #expect(pages(grouper.tick(at: at(10))).count == 1)
        #expect(pages(grouper.resolved(incident: 1, detail: "a healthy", at: at(20))).isEmpty)
        let actions = grouper.resolved(incident: 2, detail: "front up", at: at(21))
        let resolved = pages(actions)
        #expect(resolved.map(\.kind) == [.resolve])
        #expect(resolved.first?.channels == ["sms"])
        #expect(actions.contains(.closed(group: 1, paged: true)))
        // A new fault afterwards is a new outage.
        _ = grouper.fired(member(3, "down", target: "front"), at: at(30))
        #expect(grouper.group(of: 3) == 2)
    }

    @Test("an outage that clears within `wait` pages nobody")
    func blipInsideWait() {
        var grouper = grouper()
        _ = grouper.fired(member(1, "down", target: "front"), at: at(0))
        let actions = grouper.resolved(incident: 1, detail: "up", at: at(5))
        #expect(actions == [.closed(group: 1, paged: false)])
        #expect(pages(grouper.tick(at: at(20))).isEmpty)
    }

    @Test("nothing pages before the start-up grace ends; an outage still there then pages once")
    func startupGrace() {
        var grouper = grouper(hold: 30)
        _ = grouper.fired(member(1, "down", target: "front"), at: at(0))
        #expect(pages(grouper.tick(at: at(29))).isEmpty)
        #expect(pages(grouper.tick(at: at(30))).map(\.kind) == [.trigger])
        var clean = self.grouper(hold: 30)
        _ = clean.fired(member(1, "down", target: "front"), at: at(0))
        #expect(clean.resolved(incident: 1, detail: "up", at: at(12)) == [.closed(group: 1, paged: false)])
    }

    @Test("with grouping off, an inhibited incident pages nobody while its cause fires")
    func inhibition() {
        var grouper = grouper(grouping: nil)
        var actions = grouper.fired(member(1, "no-healthy-backends"), at: at(0))
        actions += grouper.fired(member(2, "backend-down", target: "a"), at: at(0))
        actions += grouper.tick(at: at(1))
        let first = pages(actions)
        #expect(first.map { $0.firing.map(\.incident) } == [[1]])
        // The cause clears, the backend is still down: now it pages.
        _ = grouper.resolved(incident: 1, detail: "ok", at: at(5))
        #expect(pages(grouper.tick(at: at(6))).map { $0.firing.map(\.incident) } == [[2]])
    }

    @Test("a silenced outage is recorded as silenced; when the silence ends while it fires, it pages")
    func silence() {
        var grouper = grouper()
        grouper.silences = [Silence(name: "silence 1", matchers: ["rule": "down"], starts: at(0), ends: at(100))]
        _ = grouper.fired(member(1, "down", target: "front"), at: at(0))
        let held = pages(grouper.tick(at: at(10)))
        #expect(held.count == 1)
        #expect(held.first?.silencedBy == "silence 1")
        #expect(pages(grouper.tick(at: at(50))).isEmpty)
        let real = pages(grouper.tick(at: at(100)))
        #expect(real.map(\.kind) == [.trigger])
        #expect(real.first?.silencedBy == nil)
        #expect(pages(grouper.tick(at: at(200))).isEmpty)
    }

    @Test("a matcher that does not match leaves the page alone")
    func silenceMismatch() {
        var grouper = grouper()
        grouper.silences = [Silence(name: "silence 1", matchers: ["target": "db"], starts: at(0), ends: at(100))]
        _ = grouper.fired(member(1, "down", target: "front"), at: at(0))
        #expect(pages(grouper.tick(at: at(10))).first?.silencedBy == nil)
    }

    @Test("reminders every `repeat` and one escalation until acknowledged; acknowledging tells PagerDuty-like channels")
    func repeatEscalateAcknowledge() {
        var grouper = grouper(repeatInterval: .seconds(60))
        let escalation = AlertRule.Escalation(after: .seconds(90), channels: ["boss", "pd"])
        _ = grouper.fired(member(1, "down", target: "front", escalation: escalation), at: at(0))
        #expect(pages(grouper.tick(at: at(10))).map(\.kind) == [.trigger])
        #expect(pages(grouper.tick(at: at(70))).map(\.kind) == [.repeat])
        let escalated = pages(grouper.tick(at: at(100)))
        #expect(escalated.map(\.kind) == [.escalation])
        #expect(escalated.first?.channels == ["boss", "pd"])
        let acknowledged = grouper.acknowledge(group: 1, by: "+15550100001")
        #expect(acknowledged.first == .acknowledged(group: 1, incidents: [1], by: "+15550100001"))
        #expect(pages(acknowledged).map(\.channels) == [["pd"]])
        #expect(grouper.acknowledge(group: 1, by: "api").isEmpty)
        #expect(pages(grouper.tick(at: at(1_000))).isEmpty)
    }

    @Test("notify-on-change: text channels hear of joins at most once per interval, never a call")
    func updates() {
        var settings = GroupingSettings()
        settings.notifyOnChange = true
        settings.interval = .seconds(60)
        var grouper = grouper(grouping: settings)
        _ = grouper.fired(member(1, "backend-down", target: "a"), at: at(0))
        _ = grouper.tick(at: at(10))
        _ = grouper.fired(member(2, "backend-down", target: "b"), at: at(20))
        #expect(pages(grouper.tick(at: at(30))).isEmpty)
        let update = pages(grouper.tick(at: at(70)))
        #expect(update.map(\.kind) == [.update])
        #expect(update.first?.channels == ["sms"])
        #expect(update.first.map { OutageText.compose($0, code: 7, title: "pool default") } == "[tugboat] UPDATE #7 pool default: now 2 backends down")
    }

    @Test("grouping by rule and target keeps different targets apart")
    func groupByTarget() {
        var settings = GroupingSettings()
        settings.by = ["rule", "target"]
        var grouper = grouper(grouping: settings, inhibit: [])
        _ = grouper.fired(member(1, "backend-down", target: "a"), at: at(0))
        _ = grouper.fired(member(2, "backend-down", target: "b"), at: at(1))
        #expect(pages(grouper.tick(at: at(11))).count == 2)
    }

    @Test("page texts: one incident reads as before, several as a list")
    func texts() {
        let one = OutageGrouper.Page(group: 1, kind: .trigger, channels: [], firing: [member(1, "down", target: "front", rule: "front-down")], cleared: [])
        #expect(OutageText.compose(one, code: 3, title: "pool default") == "[tugboat] FIRING #3 front-down: down front")
        let many = OutageGrouper.Page(group: 1, kind: .resolve, channels: [], firing: [],
                                      cleared: [member(1, "backend-down", target: "a"), member(2, "down", target: "front")])
        #expect(OutageText.compose(many, code: 3, title: "pool default") == "[tugboat] RESOLVED #3 pool default: all clear (backend a down, front down)")
    }
}
