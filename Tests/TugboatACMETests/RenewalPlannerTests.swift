import Foundation
import Testing
@testable import TugboatACME

@Suite("ACME renewal planner")
struct RenewalPlannerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    func ninetyDays(from start: Date) -> RenewalPlanner.Validity { .init(notBefore: start, notAfter: start.addingTimeInterval(90 * day)) }

    @Test("no certificate: order at once")
    func ordersWithoutCertificate() {
        #expect(RenewalPlanner(certificate: nil).nextAttempt(now: now) == now)
    }

    @Test("a 90-day certificate is renewed after 60 days; an expired one at once")
    func renewsAtTwoThirds() {
        let planner = RenewalPlanner(certificate: ninetyDays(from: now))
        #expect(planner.nextAttempt(now: now) == now.addingTimeInterval(60 * day))
        let expired = RenewalPlanner(certificate: ninetyDays(from: now.addingTimeInterval(-91 * day)))
        #expect(expired.nextAttempt(now: now) == now)
    }

    @Test("failures back off from 1 minute, doubling, capped at 24 hours; jitter stays within ±20 %")
    func backsOff() {
        var planner = RenewalPlanner(certificate: nil)
        var delays: [TimeInterval] = []
        for _ in 0..<14 {
            planner.failed(now: now, retryAfter: nil, rateLimited: false, random: 0.5)  // 0.5: no jitter
            delays.append(planner.nextAttempt(now: now).timeIntervalSince(now))
        }
        #expect(Array(delays.prefix(5)) == [60, 120, 240, 480, 960])
        #expect(delays.last == day)
        var low = RenewalPlanner(certificate: nil), high = RenewalPlanner(certificate: nil)
        low.failed(now: now, retryAfter: nil, rateLimited: false, random: 0)
        high.failed(now: now, retryAfter: nil, rateLimited: false, random: 1)
        #expect(low.nextAttempt(now: now).timeIntervalSince(now) == 48)
        #expect(high.nextAttempt(now: now).timeIntervalSince(now) == 72)
    }

    @Test("the server's Retry-After wins over a shorter backoff; rateLimited without one waits an hour")
    func retryAfterAndRateLimits() {
        var planner = RenewalPlanner(certificate: nil)
        planner.failed(now: now, retryAfter: now.addingTimeInterval(600), rateLimited: false, random: 0.5)
        #expect(planner.nextAttempt(now: now) == now.addingTimeInterval(600))
        var limited = RenewalPlanner(certificate: nil)
        limited.failed(now: now, retryAfter: nil, rateLimited: true, random: 0.5)
        #expect(limited.nextAttempt(now: now) == now.addingTimeInterval(3600))
    }

    @Test("success clears the backoff; renewNow is at once; a failed early renewal waits for the due date")
    func successAndRenewNow() {
        var planner = RenewalPlanner(certificate: nil)
        planner.failed(now: now, retryAfter: nil, rateLimited: false, random: 0.5)
        planner.failed(now: now, retryAfter: nil, rateLimited: false, random: 0.5)
        planner.succeeded(ninetyDays(from: now))
        #expect(planner.consecutiveFailures == 0)
        #expect(planner.nextAttempt(now: now) == now.addingTimeInterval(60 * day))
        planner.renewNow()
        #expect(planner.nextAttempt(now: now) == now)
        planner.failed(now: now, retryAfter: nil, rateLimited: false, random: 0.5)
        #expect(planner.nextAttempt(now: now) == now.addingTimeInterval(60 * day))
        // Once due, a failure is retried with backoff (the second failure in a row: 2 minutes).
        let due = now.addingTimeInterval(61 * day)
        planner.failed(now: due, retryAfter: nil, rateLimited: false, random: 0.5)
        #expect(planner.nextAttempt(now: due) == due.addingTimeInterval(120))
    }
}
