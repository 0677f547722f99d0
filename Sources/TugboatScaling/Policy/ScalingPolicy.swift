import TugboatCore

/// The scaling policy: a pure function of the observed rate, the instance counts and the time.
///
/// Feed it one sample a second with ``observe(rate:at:)``; ask it with ``decide(current:ready:now:)``.
/// - Target tracking: desired = ceil(stable rate / target-rps), unchanged while the rate per instance
///   stays within the dead band (±`tolerance`) of the target, as HPA does.
/// - Thresholds: one instance more when the rate per instance is above `up-rps`, one less below `down-rps`.
/// - `cooldown-up`: after a scale-up no further scale-up for that long (panic excepted).
/// - `stabilize-down`: scale down only to the highest recommendation of that window (HPA).
/// - `target-inflight` (optional, both modes): desired is also at least ceil(mean requests in flight
///   / target-inflight), with the same dead band — slow requests fill instances before the rate does
///   (Knative's concurrency target).
/// - Panic: when the rate (or the concurrency) over the short `panic window` is at least
///   `panicThreshold` × the ready capacity, scale up at once to what that rate needs, and block scale-down until the panic
///   condition has not held for a whole `window` (Knative).
/// - `min: 0`: the last instance goes only after `idle-to-zero` without any request.
package struct ScalingPolicy: Sendable {
    package typealias Instant = ContinuousClock.Instant

    /// What the policy wants, and why.
    package struct Decision: Sendable, Equatable {
        /// The instance count wanted now (equal to the current count: hold).
        package var desired: Int
        package var reason: String
        /// Whether the policy is in panic mode.
        package var panic: Bool
        /// Mean rate over `window` and over the panic window, requests per second.
        package var stableRate: Double
        package var panicRate: Double
        /// Mean requests in flight over `window`.
        package var stableConcurrency: Double = 0
    }

    private struct Sample {
        var at: Instant
        var rate: Double
        var concurrency: Double
    }

    package private(set) var settings: ScalingSettings
    private var samples: [Sample] = []
    private var recommendations: [(at: Instant, count: Int)] = []
    private var lastScaleUp: Instant?
    private var lastPanicAt: Instant?
    private var lastTrafficAt: Instant?
    private var firstSampleAt: Instant?

    package init(settings: ScalingSettings) {
        self.settings = settings
    }

    /// A config reload changed `scaling`: the samples, recommendations and the time of the last
    /// scale-up are kept, so the new window, target, bounds and cooldown judge the same history.
    package mutating func replaceSettings(_ settings: ScalingSettings) {
        self.settings = settings
    }

    /// Whether the policy is in panic mode at `now` (the panic condition held within the last `window`).
    package func inPanic(now: Instant) -> Bool {
        guard let lastPanicAt else { return false }
        return now - lastPanicAt < settings.window
    }

    /// Records the total request rate and mean requests in flight of one interval (normally the
    /// last second) ending at `at`.
    package mutating func observe(rate: Double, concurrency: Double = 0, at now: Instant) {
        samples.append(Sample(at: now, rate: Swift.max(0, rate), concurrency: Swift.max(0, concurrency)))
        if firstSampleAt == nil { firstSampleAt = now }
        if rate > 0 || concurrency > 0 { lastTrafficAt = now }
        let keep = Swift.max(settings.window, settings.panicWindow)
        if let firstKept = samples.firstIndex(where: { now - $0.at < keep }) {
            if firstKept > 0 { samples.removeFirst(firstKept) }
        } else {
            samples.removeAll()
        }
    }

    /// Mean of the samples of the last `window` (0 without samples).
    package func stableRate(now: Instant) -> Double { mean(\.rate, over: settings.window, now: now) }

    /// Mean of the samples of the last panic window.
    package func panicRate(now: Instant) -> Double { mean(\.rate, over: settings.panicWindow, now: now) }

    private func mean(_ value: KeyPath<Sample, Double>, over span: Duration, now: Instant) -> Double {
        var sum = 0.0
        var count = 0
        for sample in samples.reversed() {
            guard now - sample.at < span else { break }
            sum += sample[keyPath: value]
            count += 1
        }
        return count == 0 ? 0 : sum / Double(count)
    }

    /// The rate one instance is meant to carry.
    private var perInstance: Double {
        switch settings.mode {
        case .targetTracking(let target): target
        case .thresholds(let up, _): up
        }
    }

    private func clamp(_ count: Int) -> Int { Swift.min(settings.max, Swift.max(settings.min, count)) }

    private static func ceilCount(_ value: Double) -> Int {
        guard value.isFinite, value > 0 else { return 0 }
        return Int((value - 1e-9).rounded(.up))
    }

    private static func format(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }

    /// The decision at `now` for `current` instances (launched or starting included, leaving ones
    /// excluded) of which `ready` serve traffic. Records the recommendation for stabilisation.
    package mutating func decide(current: Int, ready: Int, now: Instant) -> Decision {
        let stable = stableRate(now: now)
        let burst = panicRate(now: now)
        let stableConcurrency = mean(\.concurrency, over: settings.window, now: now)
        let burstConcurrency = mean(\.concurrency, over: settings.panicWindow, now: now)
        if recommendations.isEmpty { recommendations.append((now, current)) }  // no drop right after a start

        // Panic: the short-window rate (or concurrency) against what the ready instances can carry.
        let capacity = Double(ready) * perInstance
        let concurrencyPanic = settings.targetInflight.map { burstConcurrency >= settings.panicThreshold * Double(ready) * $0 } ?? false
        if ready > 0, burst >= settings.panicThreshold * capacity || concurrencyPanic {
            lastPanicAt = now
        }
        let panic = inPanic(now: now)

        // The raw recommendation from the stable rate.
        var raw: Int
        var why: String
        switch settings.mode {
        case .targetTracking(let target):
            let needed = Self.ceilCount(stable / target)
            if current > 0, abs(stable / (Double(current) * target) - 1) <= settings.tolerance {
                raw = current
                why = "rate \(Self.format(stable)) rps within \(Int(settings.tolerance * 100)) % of \(Self.format(target)) rps × \(current)"
            } else {
                raw = needed
                why = "rate \(Self.format(stable)) rps needs \(needed) × \(Self.format(target)) rps"
            }
        case .thresholds(let up, let down):
            let perInstance = current > 0 ? stable / Double(current) : stable
            if current == 0 {
                raw = stable > 0 ? 1 : 0
                why = stable > 0 ? "rate \(Self.format(stable)) rps at zero instances" : "no traffic"
            } else if perInstance > up {
                raw = current + 1
                why = "rate \(Self.format(perInstance)) rps per instance above up-rps \(Self.format(up))"
            } else if perInstance < down {
                raw = current - 1
                why = "rate \(Self.format(perInstance)) rps per instance below down-rps \(Self.format(down))"
            } else {
                raw = current
                why = "rate \(Self.format(perInstance)) rps per instance between \(Self.format(down)) and \(Self.format(up))"
            }
        }
        // In-flight requests: at least what the concurrency target needs (same dead band).
        if let target = settings.targetInflight {
            let needed = Self.ceilCount(stableConcurrency / target)
            let within = current > 0 && abs(stableConcurrency / (Double(current) * target) - 1) <= settings.tolerance
            let byConcurrency = within ? current : needed
            if byConcurrency > raw {
                raw = byConcurrency
                why = within
                    ? "in flight \(Self.format(stableConcurrency)) within \(Int(settings.tolerance * 100)) % of \(Self.format(target)) × \(current)"
                    : "in flight \(Self.format(stableConcurrency)) needs \(needed) × \(Self.format(target))"
            }
        }
        // Scale to zero only after idle-to-zero without a request.
        if raw == 0, current > 0 {
            let idleSince = lastTrafficAt ?? firstSampleAt ?? now
            if now - idleSince < settings.idleToZero {
                raw = 1
                why = "idle for less than idle-to-zero"
            } else {
                why = "no request for \(settings.idleToZero)"
            }
        }
        let clamped = clamp(raw)
        if clamped != raw { why += raw > clamped ? " (capped at max \(settings.max))" : " (held at min \(settings.min))" }
        raw = clamped

        recommendations.append((now, raw))
        if let firstKept = recommendations.firstIndex(where: { now - $0.at <= settings.stabilizeDown }), firstKept > 0 {
            recommendations.removeFirst(firstKept)
        }

        func decision(_ desired: Int, _ reason: String) -> Decision {
            Decision(desired: desired, reason: reason, panic: panic, stableRate: stable, panicRate: burst,
                     stableConcurrency: stableConcurrency)
        }

        if panic {
            let burstNeed = clamp(Swift.max(Self.ceilCount(burst / perInstance),
                                            settings.targetInflight.map { Self.ceilCount(burstConcurrency / $0) } ?? 0))
            let desired = Swift.max(current, raw, burstNeed)
            if desired > current {
                lastScaleUp = now
                let what = concurrencyPanic ? "in flight \(Self.format(burstConcurrency))" : "rate \(Self.format(burst)) rps"
                return decision(desired, "panic: \(what) over \(settings.panicWindow) is at least \(Self.format(settings.panicThreshold))× the capacity of \(ready) ready")
            }
            return decision(current, "panic: holding \(current), no scale-down while it lasts")
        }
        if raw > current {
            if let lastScaleUp, now - lastScaleUp < settings.cooldownUp {
                return decision(current, "cooldown-up: \(why)")
            }
            lastScaleUp = now
            return decision(raw, why)
        }
        if raw < current {
            let highest = recommendations.map(\.count).max() ?? raw
            let desired = Swift.min(current, highest)
            if desired == current {
                return decision(current, "stabilizing: \(why), but \(highest) recommended within \(settings.stabilizeDown)")
            }
            return decision(desired, desired == raw ? why : "\(why); stabilized at \(desired)")
        }
        return decision(current, why)
    }
}
