import Foundation
import Testing
import TugboatAlerts
import TugboatCore

@Suite("Flapping and maintenance windows")
struct FlapAndCronTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a key that changes state `changes` times within the window is flapping; a quiet one is not")
    func flapping() {
        var settings = FlappingSettings()
        settings.changes = 3
        settings.window = .seconds(600)
        var detector = FlapDetector(settings: settings)
        let verdicts = [("front", 0.0), ("front", 30), ("front", 60), ("other", 60), ("front", 2_000)].map { key, seconds in
            detector.record(key, at: t0.addingTimeInterval(seconds))
        }
        #expect(verdicts == [false, false, true, false, false])
    }

    @Test("cron: Sundays at 03:00 Berlin time, for an hour")
    func cronWindow() throws {
        let cron = try CronSchedule(parsing: "0 3 * * SUN")
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let window = MaintenanceWindow(name: "weekly", schedule: .cron(cron, duration: .seconds(3600)), timeZone: berlin)
        // Sunday 2026-12-06 03:30 in Berlin is 02:30 UTC.
        let inside = try Date("2026-12-06T02:30:00Z", strategy: .iso8601)
        #expect(window.isOpen(at: inside))
        #expect(!window.isOpen(at: inside.addingTimeInterval(3600)))
        #expect(!window.isOpen(at: inside.addingTimeInterval(-86_400)))
    }

    @Test("cron fields: lists, ranges, steps, names; bad fields are refused with the reason")
    func cronParsing() throws {
        let cron = try CronSchedule(parsing: "*/15 9-17 * JAN,jul 1-5")
        let utc = TimeZone(identifier: "UTC")!
        let monday = try Date("2027-01-04T09:00:00Z", strategy: .iso8601)
        let matches = cron.matches(from: monday, through: monday.addingTimeInterval(3599), timeZone: utc)
        #expect(matches.count == 4)
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: "0 3 * *") }
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: "61 3 * * *") }
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: "0 5-3 * * *") }
    }

    @Test("a one-off window is open between its ends")
    func oneOff() {
        let window = MaintenanceWindow(name: "move", schedule: .once(starts: t0, ends: t0.addingTimeInterval(60)), timeZone: .gmt)
        #expect(window.isOpen(at: t0))
        #expect(!window.isOpen(at: t0.addingTimeInterval(60)))
    }
}
