import Foundation

/// When the stapler asks a responder again (pure): halfway through a good response's validity
/// window, as Caddy does, so that a responder down for a while never leaves a handshake without a
/// valid staple; after a failure sooner, doubling from a minute to an hour.
struct OCSPRefreshPlan {
    static let soonest: TimeInterval = 60
    static let latest: TimeInterval = 86_400
    /// A response without a next update (the responder always has newer information): an hour.
    static let withoutLimit: TimeInterval = 3_600

    /// After a good response.
    static func afterGood(thisUpdate: Date, nextUpdate: Date?, now: Date) -> Date {
        guard let nextUpdate else { return now.addingTimeInterval(withoutLimit) }
        let halfway = thisUpdate.addingTimeInterval(nextUpdate.timeIntervalSince(thisUpdate) / 2)
        return min(max(halfway, now.addingTimeInterval(soonest)), now.addingTimeInterval(latest))
    }

    /// After the `failures`th failure in a row (1 for the first).
    static func afterFailure(_ failures: Int, now: Date) -> Date {
        now.addingTimeInterval(min(soonest * pow(2, Double(min(max(failures, 1), 16) - 1)), withoutLimit))
    }
}
