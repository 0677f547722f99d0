import Foundation

/// What the crash-forensics tests share: the alerting that pages an `instance-exited` through the
/// contract server at once, and following the page's link to its flame graph.
enum CrashPages {
    /// `alerts:` with fast retries, no grouping wait and a `crash` rule to SMS and webhook.
    static func alertsYAML(_ contract: ContractServer) -> String {
        """
        alerts:
          retry: { first: 100ms, max: 300ms }
          timeout: 1s
          startup-grace: 0s
          group: { wait: 0s }
        """ + "\n" + contract.channelsYAML() + """

          rules:
            - { name: crash, condition: instance-exited, channels: [sms, hook] }
        """
    }

    /// Waits for the crash's SMS (and webhook), checks it names `instance`, then opens the flame
    /// graph behind its link (with the link's key, no token) once the exit's capture is stored.
    static func flameGraph(of instance: String, tugboat: TugboatUnderTest, contract: ContractServer,
                           adminPort: Int? = nil) throws -> (sms: String, link: String, svg: String) {
        let admin = adminPort ?? tugboat.adminPort
        try waitUntilBlocking(timeout: .seconds(30), "the SMS and the webhook") { try contract.accepted("sms").count >= 1 && contract.accepted("hook").count >= 1 }
        guard let sms = (try contract.accepted("sms")[0]["fields"] as? [String: String])?["Body"] else { throw TestFailure("an SMS without a body") }
        guard sms.contains("crash: instance \(instance) exited on its own") else { throw TestFailure("the SMS: \(sms)") }
        guard let link = sms.range(of: "Flame graph: ").map({ String(sms[$0.upperBound...].prefix { $0 != " " }) }) else {
            throw TestFailure("no link in: \(sms)")
        }
        let path = String(link.dropFirst("http://127.0.0.1:\(admin)".count))
        var svg = "", status = 0
        do {
            try waitUntilBlocking(timeout: .seconds(30), "the flame graph behind the link") {
                let response = try TestHTTPClient(port: admin).request("GET", path, headers: ["Connection": "close"])
                (status, svg) = (response.status, String(decoding: response.body, as: UTF8.self))
                // An unhealthy capture may be stored first; the exit's capture replaces it behind the link.
                return response.status == 200 && svg.contains("exited on its own")
            }
        } catch {
            // What the link gave last, and what Tugboat said about captures: the evidence for a
            // failure that is seen only under load.
            let captures = tugboat.child.lines.filter { $0.contains("flame graph") || $0.contains("capture") || $0.contains("profiling") }.suffix(8)
            throw TestFailure("\(error); last answer \(status): \(svg.prefix(300)); log: \(captures.joined(separator: " | "))")
        }
        return (sms, link, svg)
    }
}
