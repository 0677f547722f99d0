import Foundation
import TugboatCore

/// When to order a certificate: pure, so that every rule is tested without a clock or a server.
///
/// - No certificate covering the domains: order now.
/// - A certificate: renew at two thirds of its life (Let's Encrypt's 90 days: after 60).
/// - After a failure: wait `firstBackoff` doubling per consecutive failure up to `maxBackoff`,
///   jittered by ±`jitter`; never earlier than the server's Retry-After; a `rateLimited` problem
///   without one waits at least `rateLimitedBackoff`.
/// - `renewNow()` (the admin action): at once, whatever the schedule.
struct RenewalPlanner: Sendable, Equatable {
    struct Policy: Sendable, Equatable {
        var firstBackoff: TimeInterval = 60
        var maxBackoff: TimeInterval = 86_400
        var rateLimitedBackoff: TimeInterval = 3600
        /// 0.2: a delay is multiplied by a factor in 0.8…1.2.
        var jitter: Double = 0.2
    }

    /// The certificate in use (nil: none, or only the placeholder).
    struct Validity: Sendable, Equatable {
        var notBefore: Date
        var notAfter: Date

        var renewalTime: Date { notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) * 2 / 3) }
    }

    let policy: Policy
    private(set) var certificate: Validity?
    private(set) var consecutiveFailures = 0
    /// Set after a failure: no attempt before it.
    private(set) var retryAt: Date?
    private var requested = false

    init(policy: Policy = Policy(), certificate: Validity?) {
        self.policy = policy
        self.certificate = certificate
    }

    /// When the next order is due (now or in the past: at once).
    func nextAttempt(now: Date) -> Date {
        if requested { return now }
        if let retryAt {
            // A failed early renewal (renewNow) is not retried before the certificate is due.
            if let certificate, certificate.notAfter > now, certificate.renewalTime > retryAt { return certificate.renewalTime }
            return retryAt
        }
        guard let certificate, certificate.notAfter > now else { return now }
        return certificate.renewalTime
    }

    mutating func renewNow() { requested = true }

    mutating func succeeded(_ validity: Validity) {
        certificate = validity
        consecutiveFailures = 0
        retryAt = nil
        requested = false
    }

    /// `random` in 0…1 (injected for the tests) spreads the delay by the policy's jitter.
    mutating func failed(now: Date, retryAfter: Date?, rateLimited: Bool, random: Double) {
        consecutiveFailures += 1
        requested = false
        let backoff = Backoff(first: .seconds(policy.firstBackoff), maximum: .seconds(policy.maxBackoff), jitter: .spread(policy.jitter))
        var delay = backoff.delay(afterAttempt: consecutiveFailures, random: random).seconds
        if rateLimited && retryAfter == nil { delay = max(delay, policy.rateLimitedBackoff) }
        var at = now.addingTimeInterval(delay)
        if let retryAfter, retryAfter > at { at = retryAfter }
        retryAt = at
    }
}
