/// What an outage's pages say. One incident reads as before grouping
/// (`[tugboat] FIRING #12 front-down: monitor front is down (HTTP 503)`); several read as a list
/// of what is wrong (`[tugboat] FIRING #12 pool default: 2 backends down, no healthy backend, front down`).
/// The number is the outage's code: `ACK 12` acknowledges it.
package enum OutageText {
    package static func compose(_ page: OutageGrouper.Page, code: Int64, title: String, acknowledgedBy: String? = nil) -> String {
        let everyone = page.firing + page.cleared
        switch page.kind {
        case .resolve:
            if everyone.count == 1 { return "[tugboat] RESOLVED #\(code) \(everyone[0].rule): \(everyone[0].detail)" }
            return "[tugboat] RESOLVED #\(code) \(title): all clear (\(phrases(everyone)))"
        case .acknowledge:
            return "[tugboat] ACKNOWLEDGED #\(code) \(title)\(acknowledgedBy.map { " by \($0)" } ?? ""): \(phrases(page.firing))"
        case .update:
            var text = "[tugboat] UPDATE #\(code) \(title): now \(page.firing.isEmpty ? "nothing" : phrases(page.firing))"
            if !page.cleared.isEmpty { text += "; cleared: \(phrases(page.cleared))" }
            return text
        case .trigger, .repeat, .escalation:
            let word = page.kind == .trigger ? "FIRING" : page.kind == .repeat ? "STILL FIRING" : "ESCALATED"
            let note = page.kind == .escalation ? " (not acknowledged)" : ""
            if page.firing.count == 1 { return "[tugboat] \(word) #\(code) \(page.firing[0].rule)\(note): \(page.firing[0].detail)" }
            return "[tugboat] \(word) #\(code) \(title)\(note): \(phrases(page.firing))"
        }
    }

    /// `2 backends down, no healthy backend, front down`: one phrase per kind of trouble, in the
    /// order they started.
    package static func phrases(_ members: [OutageMember]) -> String {
        var order: [String] = []
        var counts: [String: (one: String, many: String, count: Int)] = [:]
        for member in members {
            let (key, one, many): (String, String, String)
            switch member.condition {
            case "backend-down": (key, one, many) = ("backend-down", "backend \(member.target) down", "backends down")
            case "instance-exited": (key, one, many) = ("instance-exited", "instance \(member.target) exited", "instances exited")
            case "no-healthy-backends": (key, one, many) = ("none", "no healthy backend", "no healthy backend")
            case "down": (key, one, many) = ("down-\(member.target)", "\(member.target) down", "\(member.target) down")
            case "rps-above": (key, one, many) = ("rps", "request rate high", "request rate high")
            case "error-rate-above": (key, one, many) = ("errors", "5xx share high", "5xx share high")
            case "p99-above": (key, one, many) = ("p99", "p99 latency high", "p99 latency high")
            case "certificate-expires-within": (key, one, many) = ("certificate", "certificate \(member.target) expiring", "certificates expiring")
            default: (key, one, many) = ("rule-\(member.rule)", member.rule, member.rule)
            }
            if counts[key] == nil { order.append(key); counts[key] = (one, many, 0) }
            counts[key]!.count += 1
        }
        return order.map { key in
            let entry = counts[key]!
            return entry.count == 1 || entry.one == entry.many ? entry.one : "\(entry.count) \(entry.many)"
        }.joined(separator: ", ")
    }

    /// `pool default`, `rule front-down`: the outage's grouping labels in words.
    package static func title(groupKey: String) -> String {
        groupKey.split(separator: ",").map { $0.replacingOccurrences(of: "=", with: " ") }.joined(separator: ", ")
    }
}
