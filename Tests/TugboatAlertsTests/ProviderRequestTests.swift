import Foundation
import Testing
import TugboatCore
import TugboatStore
@testable import TugboatAlerts

@Suite("PagerDuty and Opsgenie requests")
struct ProviderRequestTests {
    var incident: IncidentRecord {
        var incident = IncidentRecord(rule: "front-down", target: "front", state: .firing, summary: "HTTP 503", startedAt: Date(timeIntervalSince1970: 0))
        incident.id = 7
        incident.firedAt = Date(timeIntervalSince1970: 60)
        return incident
    }

    func notification(_ kind: String, text: String = "[tugboat] FIRING #7 front-down: HTTP 503") -> NotificationRecord {
        var notification = NotificationRecord(incident: 7, channel: "pd", recipient: nil, kind: try! NotificationKind(wire: kind), text: text, at: Date())
        notification.id = 11
        notification.alertGroup = 3
        return notification
    }

    func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }

    @Test("PagerDuty: pages trigger with a payload; acknowledge and resolve carry only the dedup key", arguments: [
        ("trigger", "trigger"), ("update", "trigger"), ("repeat", "trigger"), ("escalation", "trigger"),
        ("acknowledge", "acknowledge"), ("resolve", "resolve"),
    ])
    func pagerDutyActions(kind: String, action: String) {
        var config = PagerDutyConfig(routingKey: Secret("R0UTING"))
        config.apiBase = "http://127.0.0.1:9"
        config.severity = "warning"
        let (url, body) = PagerDutyEvents.request(config, notification: notification(kind), incident: incident)
        let event = json(body)
        #expect(url == "http://127.0.0.1:9/v2/enqueue")
        #expect(event["routing_key"] as? String == "R0UTING")
        #expect(event["event_action"] as? String == action)
        #expect(event["dedup_key"] as? String == "tugboat-group-3")
        let payload = event["payload"] as? [String: Any]
        if action == "trigger" {
            #expect(payload?["summary"] as? String == "[tugboat] FIRING #7 front-down: HTTP 503")
            #expect(payload?["source"] as? String == "tugboat")
            #expect(payload?["severity"] as? String == "warning")
            let details = payload?["custom_details"] as? [String: Any]
            #expect(details?["rule"] as? String == "front-down" && details?["incident"] as? Int == 7)
        } else {
            #expect(payload == nil)
        }
    }

    @Test("PagerDuty: the summary is cut to 1024 characters; errors and dedup keys are read from the answer")
    func pagerDutyLimits() {
        let (_, body) = PagerDutyEvents.request(PagerDutyConfig(routingKey: Secret("k")),
                                                notification: notification("trigger", text: String(repeating: "x", count: 3000)), incident: incident)
        let summary = (json(body)["payload"] as? [String: Any])?["summary"] as? String
        #expect(summary?.count == 1024)
        let refusal = Data(#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}"#.utf8)
        #expect(PagerDutyEvents.describeError(status: 400, body: refusal) ==
            "PagerDuty HTTP 400: Event object is invalid (Length of 'routing_key' is incorrect)")
        #expect(PagerDutyEvents.describeError(status: 502, body: Data("<html>".utf8)) == "PagerDuty HTTP 502")
        #expect(PagerDutyEvents.dedupKey(from: Data(#"{"status":"success","message":"Event processed","dedup_key":"abc"}"#.utf8)) == "abc")
    }

    @Test("Opsgenie: pages create an alert by alias with message, description, priority and string details")
    func opsgenieCreate() {
        var config = OpsgenieConfig(apiKey: Secret("k"))
        config.apiBase = "http://127.0.0.1:9"
        config.priority = "P2"
        for kind in ["trigger", "update", "repeat", "escalation"] {
            let request = OpsgenieAlerts.request(config, notification: notification(kind, text: String(repeating: "m", count: 200)), incident: incident)
            let alert = json(request.body)
            #expect(request.url == "http://127.0.0.1:9/v2/alerts")
            #expect((alert["message"] as? String)?.count == 130)
            #expect(alert["alias"] as? String == "tugboat-group-3")
            #expect(alert["priority"] as? String == "P2" && alert["source"] as? String == "tugboat")
            #expect((alert["description"] as? String)?.hasPrefix(String(repeating: "m", count: 200)) == true)
            let details = alert["details"] as? [String: String]
            #expect(details?["incident"] == "7" && details?["rule"] == "front-down")
        }
    }

    @Test("Opsgenie: acknowledge and resolve act on the alert by alias, with source tugboat")
    func opsgenieAckAndClose() {
        let config = OpsgenieConfig(apiKey: Secret("k"))
        let ack = OpsgenieAlerts.request(config, notification: notification("acknowledge"), incident: incident)
        #expect(ack.url == "https://api.opsgenie.com/v2/alerts/tugboat-group-3/acknowledge?identifierType=alias")
        #expect(json(ack.body)["source"] as? String == "tugboat")
        var ungrouped = notification("resolve")
        ungrouped.alertGroup = nil
        let close = OpsgenieAlerts.request(config, notification: ungrouped, incident: incident)
        #expect(close.url == "https://api.opsgenie.com/v2/alerts/tugboat-incident-7/close?identifierType=alias")
        #expect(json(close.body)["source"] as? String == "tugboat")
    }

    @Test("Opsgenie: errors and request ids are read from the answer")
    func opsgenieAnswers() {
        let refusal = Data(#"{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.001,"requestId":"r"}"#.utf8)
        #expect(OpsgenieAlerts.describeError(status: 422, body: refusal) ==
            "Opsgenie HTTP 422: Request body is not processable. Please check the errors. (message: Message can not be empty.)")
        #expect(OpsgenieAlerts.requestID(from: Data(#"{"result":"Request will be processed","took":0.1,"requestId":"43a29c5c"}"#.utf8)) == "43a29c5c")
    }
}
