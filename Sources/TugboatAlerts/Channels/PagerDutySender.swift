import Foundation
import NIOCore
import NIOFoundationCompat
import TugboatCore
import TugboatStore

/// `pagerduty`: one Events API v2 event per notification (`POST {api-base}/v2/enqueue`). Every page
/// of an outage carries its ``NotificationRecord/pageKey`` as `dedup_key`, so PagerDuty keeps one
/// alert that Tugboat triggers, acknowledges and resolves.
struct PagerDutySender: NotificationSender {
    let pagerDuty: PagerDutyConfig
    let http: HTTPPoster

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        let request = PagerDutyEvents.request(pagerDuty, notification: notification, incident: incident)
        let key = pagerDuty.routingKey.value
        let (_, body) = try await http.post(url: request.url, headers: [("Content-Type", "application/json")],
                                            body: ByteBuffer(data: request.body)) { status, body in
            PagerDutyEvents.describeError(status: status, body: Data(buffer: body)).replacingOccurrences(of: key, with: "<redacted>")
        }
        return PagerDutyEvents.dedupKey(from: Data(buffer: body)) ?? notification.pageKey
    }
}

/// The Events API v2 wire format (pure).
enum PagerDutyEvents {
    /// `trigger` for every page (a repeat or escalation re-triggers the same alert), else the kind itself.
    static func action(forKind kind: NotificationKind) -> String {
        switch kind {
        case .acknowledge: "acknowledge"
        case .resolve: "resolve"
        case .trigger, .update, .repeat, .escalation: "trigger"
        }
    }

    static func request(_ pagerDuty: PagerDutyConfig, notification: NotificationRecord, incident: IncidentRecord) -> (url: String, body: Data) {
        let action = action(forKind: notification.kind)
        var event: [String: Any] = [
            "routing_key": pagerDuty.routingKey.value,
            "event_action": action,
            "dedup_key": String(notification.pageKey.prefix(255)),
        ]
        if action == "trigger" {
            var payload: [String: Any] = [
                "summary": limited(notification.text, to: 1024),
                "source": "tugboat",
                "severity": pagerDuty.severity,
                "component": incident.target,
                "class": incident.rule,
                "custom_details": IncidentPayload.json(incident, notification: notification),
            ]
            if let fired = incident.firedAt { payload["timestamp"] = ISO8601DateFormatter().string(from: fired) }
            event["payload"] = payload
        }
        let body = (try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])) ?? Data()
        return ("\(pagerDuty.apiBase)/v2/enqueue", body)
    }

    /// The `dedup_key` of a 202 answer.
    static func dedupKey(from body: Data) -> String? {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        return json?["dedup_key"] as? String
    }

    /// `PagerDuty HTTP 400: Event object is invalid (Length of 'routing_key' is incorrect)`.
    static func describeError(status: Int, body: Data) -> String {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        let message = (json?["message"] as? String).map { ": \($0)" } ?? ""
        let errors = (json?["errors"] as? [String]).map { " (\($0.joined(separator: "; ")))" } ?? ""
        return "PagerDuty HTTP \(status)\(message)\(errors)"
    }

    static func limited(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
