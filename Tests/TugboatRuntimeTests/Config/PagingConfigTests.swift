import Foundation
import TestSupport
import Testing
import TugboatAlerts
@testable import TugboatCore
@testable import TugboatRuntime

@Suite("Paging config: grouping, inhibition, maintenance, flapping, start-up grace")
struct PagingConfigTests {
    func parse(_ yaml: String) throws -> TugboatConfig {
        try ConfigLoader.parse(yaml, file: "t.yaml", environment: [:])
    }

    @Test("the defaults: grouped by pool (10 s, 5 m), the standard inhibitions, 30 s start-up grace")
    func defaults() throws {
        let alerts = try parse("alerts:\n  rules: []\n").alerts
        #expect(alerts.group == GroupingSettings())
        #expect(alerts.group?.by == ["pool"])
        #expect(alerts.group?.wait == .seconds(10))
        #expect(alerts.group?.interval == .seconds(300))
        #expect(alerts.inhibit == InhibitRule.defaults)
        #expect(alerts.startupGrace == .seconds(30))
        #expect(alerts.maintenance.isEmpty)
    }

    @Test("everything set")
    func full() throws {
        let alerts = try parse("""
        alerts:
          group: { by: [pool, rule], wait: 30s, interval: 10m, notify-on-change: true }
          inhibit:
            - { source: front-down, targets: [backend-down] }
          maintenance:
            - { name: weekly, cron: "0 3 * * SUN", duration: 1h, time-zone: Europe/Berlin }
            - { name: move, starts: "2027-01-10T22:00:00Z", ends: "2027-01-11T02:00:00Z" }
          flapping: { changes: 5, window: 30m }
          startup-grace: 1m
          rules:
            - { name: front-down, condition: no-healthy-backends }
        """).alerts
        #expect(alerts.group?.by == ["pool", "rule"])
        #expect(alerts.group?.notifyOnChange == true)
        #expect(alerts.inhibit == [InhibitRule(source: "front-down", targets: ["backend-down"])])
        #expect(alerts.maintenance.map(\.name) == ["weekly", "move"])
        #expect(alerts.maintenance[0].timeZone.identifier == "Europe/Berlin")
        #expect(alerts.flapping.changes == 5 && alerts.flapping.window == .seconds(1800))
        #expect(alerts.startupGrace == .seconds(60))
        #expect(try parse("alerts:\n  group: off\n").alerts.group == nil)
        #expect(try parse("alerts:\n  inhibit: []\n").alerts.inhibit.isEmpty)
    }

    @Test("mistakes are reported with file, line and key", arguments: [
        ("alerts:\n  group: { by: [host] }\n", "t.yaml:2: 'alerts.group.by[0]': unknown label 'host'"),
        ("alerts:\n  group: sometimes\n", "t.yaml:2: 'alerts.group' must be off or a mapping"),
        ("alerts:\n  inhibit:\n    - { source: fire, targets: [backend-down] }\n", "t.yaml:3: 'alerts.inhibit[0].source': 'fire' is neither a rule nor a condition"),
        ("alerts:\n  maintenance:\n    - { name: w, cron: \"0 3 * *\", duration: 1h }\n", "t.yaml:3: 'alerts.maintenance[0].cron': a cron expression has five fields"),
        ("alerts:\n  maintenance:\n    - { name: w, cron: \"0 3 * * SUN\" }\n", "t.yaml:3: 'alerts.maintenance[0]': a cron window needs a 'duration'"),
        ("alerts:\n  maintenance:\n    - { name: w, cron: \"0 3 * * *\", duration: 1h, time-zone: Mars/Olympus }\n", "t.yaml:3: 'alerts.maintenance[0].time-zone': unknown time zone"),
        ("alerts:\n  maintenance:\n    - { name: w, starts: \"2027-01-02T00:00:00Z\", ends: \"2027-01-01T00:00:00Z\" }\n",
         "t.yaml:3: 'alerts.maintenance[0].ends' must be after 'starts' (the window is inverted)"),
        ("alerts:\n  maintenance:\n    - { name: a, starts: \"2027-01-01T00:00:00Z\", ends: \"2027-01-01T04:00:00Z\" }\n    - { name: b, starts: \"2027-01-01T03:00:00Z\", ends: \"2027-01-01T05:00:00Z\" }\n",
         "t.yaml:4: maintenance window 'b' overlaps 'a'"),
        ("alerts:\n  maintenance:\n    - { name: h, cron: \"0 * * * *\", duration: 2h }\n", "t.yaml:3: maintenance window 'h' lasts longer than the time between its openings"),
        ("alerts:\n  flapping: { changes: 1 }\n", "t.yaml:2: 'alerts.flapping.changes' must be between 2 and 1000"),
    ])
    func errors(yaml: String, expected: String) {
        expectConfigError(expected) { try parse(yaml) }
    }
}
