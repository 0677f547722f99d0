import Foundation
import NIOCore
import NIOFoundationCompat
import TugboatCore
import TugboatStore

/// `opsgenie`: the Alert API. A page creates (or, with the same alias, deduplicates into) one alert
/// per outage; acknowledge and resolve act on it by alias.
struct OpsgenieSender: NotificationSender {
    let opsgenie: OpsgenieConfig
    let http: HTTPPoster

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        let request = OpsgenieAlerts.request(opsgenie, notification: notification, incident: incident)
        let (_, body) = try await http.post(
            url: request.url,
            headers: [("Authorization", "GenieKey \(opsgenie.apiKey.value)"), ("Content-Type", "application/json")],
            body: ByteBuffer(data: request.body),
            describe: { status, body in OpsgenieAlerts.describeError(status: status, body: Data(buffer: body)) }
        )
        return OpsgenieAlerts.requestID(from: Data(buffer: body))
    }
}

/// The Alert API's wire format (pure).
enum OpsgenieAlerts {
    struct Request: Equatable {
        var url: String
        var body: Data
    }

    static func request(_ opsgenie: OpsgenieConfig, notification: NotificationRecord, incident: IncidentRecord) -> Request {
        let alias = String(notification.pageKey.prefix(512))
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let pathAlias = alias.addingPercentEncoding(withAllowedCharacters: allowed) ?? alias
        let object: [String: Any]
        let url: String
        switch notification.kind {
        case .acknowledge:
            url = "\(opsgenie.apiBase)/v2/alerts/\(pathAlias)/acknowledge?identifierType=alias"
            object = ["source": "tugboat", "note": PagerDutyEvents.limited(notification.text, to: 25000)]
        case .resolve:
            url = "\(opsgenie.apiBase)/v2/alerts/\(pathAlias)/close?identifierType=alias"
            object = ["source": "tugboat", "note": PagerDutyEvents.limited(notification.text, to: 25000)]
        default:
            url = "\(opsgenie.apiBase)/v2/alerts"
            let details = IncidentPayload.json(incident, notification: notification).mapValues { "\($0)" }
            let facts = details.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            object = [
                "message": PagerDutyEvents.limited(EmailMessage.subject(for: notification.text, limit: 130), to: 130),
                "alias": alias,
                "description": PagerDutyEvents.limited(notification.text + "\n\n" + facts, to: 15000),
                "priority": opsgenie.priority,
                "source": "tugboat",
                "entity": String(incident.target.prefix(512)),
                "tags": ["tugboat"],
                "details": details,
            ]
        }
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Request(url: url, body: body)
    }

    /// The `requestId` of a 202 answer (creation is asynchronous at Opsgenie).
    static func requestID(from body: Data) -> String? {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        return json?["requestId"] as? String
    }

    /// `Opsgenie HTTP 422: Request body is not processable (message: Message can not be empty.)`.
    static func describeError(status: Int, body: Data) -> String {
        let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        let message = (json?["message"] as? String).map { ": \($0)" } ?? ""
        let errors = (json?["errors"] as? [String: Any]).map { errors in
            " (" + errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ") + ")"
        } ?? ""
        return "Opsgenie HTTP \(status)\(message)\(errors)"
    }
}
