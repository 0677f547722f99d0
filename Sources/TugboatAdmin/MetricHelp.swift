/// `# HELP` lines for the counters made through swift-metrics (whose factory takes no help text):
/// each is put before the metric's `# TYPE` line in the exposition. Pure.
enum MetricHelp {
    static let texts: [String: String] = [
        "tugboat_health_checks_total": "Active health checks, by backend and result.",
        "tugboat_incident_transitions_total": "Incident state changes, by rule and action.",
        "tugboat_notification_attempts_total": "Delivery attempts of pages, by channel, kind and status.",
    ]

    /// The `# HELP` and `# TYPE` lines that start a metric family.
    static func header(_ name: String, _ help: String, type: String = "gauge") -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    static func annotate(_ exposition: String) -> String {
        var out = ""
        out.reserveCapacity(exposition.utf8.count + 256)
        var helped = Set<Substring>()
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# HELP ") { helped.insert(line.dropFirst(7).prefix { $0 != " " }) }
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).prefix { $0 != " " }
                if !helped.contains(name), let help = texts[String(name)] { out += "# HELP \(name) \(help)\n" }
            }
            out += line + "\n"
        }
        return String(out.dropLast())
    }
}
