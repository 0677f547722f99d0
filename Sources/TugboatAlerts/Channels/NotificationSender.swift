import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import TugboatCore
import TugboatStore

/// Delivers one notification over one channel; returns the provider's id for it, if any.
package protocol NotificationSender: Sendable {
    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String?
}

/// Builds the sender for a configured channel.
package enum Senders {
    /// `publicURL` is `alerts.public-url`: with it, calls ask the person to press 1 to acknowledge.
    package static func make(_ config: ChannelConfig, client: HTTPClient, timeout: Duration, logger: Logger,
                            publicURL: String? = nil) -> NotificationSender {
        let http = HTTPPoster(client: client, timeout: .nanoseconds(timeout.nanoseconds))
        switch config {
        case .twilioCall(let twilio): return TwilioSender(twilio: twilio, mode: .call, http: http, publicURL: publicURL)
        case .twilioSMS(let twilio): return TwilioSender(twilio: twilio, mode: .sms, http: http, publicURL: publicURL)
        case .webhook(let url): return WebhookSender(url: url, slack: false, http: http)
        case .slack(let url): return WebhookSender(url: url, slack: true, http: http)
        case .command(let argv, let env): return CommandSender(argv: argv, environment: env, timeout: timeout)
        case .log: return LogSender(logger: logger)
        case .email(let email): return EmailSender(email: email, timeout: timeout, group: client.eventLoopGroup)
        case .pagerDuty(let pagerDuty): return PagerDutySender(pagerDuty: pagerDuty, http: http)
        case .opsgenie(let opsgenie): return OpsgenieSender(opsgenie: opsgenie, http: http)
        }
    }
}

/// POSTs and classifies the answer: 2xx ok, 429 and 5xx retryable, other 4xx permanent;
/// timeouts and refused connections are retryable.
struct HTTPPoster: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount

    func post(url: String, headers: [(String, String)], body: ByteBuffer,
              describe: (Int, ByteBuffer) -> String) async throws(DeliveryError) -> (Int, ByteBuffer) {
        try await Senders.post(client, url: url, headers: headers, body: body, timeout: timeout, describe: describe)
    }
}

extension Senders {

    static func post(_ client: HTTPClient, url: String, headers: [(String, String)], body: ByteBuffer, timeout: TimeAmount,
                     describe: (Int, ByteBuffer) -> String) async throws(DeliveryError) -> (Int, ByteBuffer) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(body)
        let status: Int
        let responseBody: ByteBuffer
        let retryAfter: String?
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "retry-after")
            responseBody = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw .retryable("\(url.split(separator: "?")[0]): \(ErrorText.short(error))")
        }
        switch status {
        case 200..<300:
            return (status, responseBody)
        case 429, 500...:
            let wait = retryAfter.flatMap(Int.init).map { Duration.seconds($0) }
            throw .retryable(describe(status, responseBody), retryAfter: wait)
        default:
            throw .permanent(describe(status, responseBody))
        }
    }
}

/// `twilio-call` and `twilio-sms`: `POST {api-base}/2010-04-01/Accounts/{sid}/Calls.json` or
/// `Messages.json`, HTTP Basic `sid:token`, form fields `To`, `From`, `Twiml` or `Body`. A page of
/// an outage asks to be acknowledged (`Message+Acknowledgement.swift`).
struct TwilioSender: NotificationSender {
    enum Mode { case call, sms }
    let twilio: TwilioConfig
    let mode: Mode
    let http: HTTPPoster
    /// `alerts.public-url`, where the call's "press 1" is posted; without it calls only speak.
    var publicURL: String? = nil

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        guard let to = notification.recipient else { throw .permanent("no recipient number") }
        let resource = mode == .call ? "Calls.json" : "Messages.json"
        let url = "\(twilio.apiBase)/2010-04-01/Accounts/\(twilio.accountSID)/\(resource)"
        var fields = [("To", to), ("From", twilio.from)]
        // Replies reach Tugboat (and their signatures can be checked) only with a public URL.
        let code = publicURL == nil ? nil : Message.acknowledgeCode(notification)
        switch mode {
        case .call: fields.append(("Twiml", Message.twiml(notification.text, acknowledgeCode: code, publicURL: publicURL)))
        case .sms: fields.append(("Body", Message.smsBody(notification.text, acknowledgeCode: code)))
        }
        if let callback = twilio.statusCallback { fields.append(("StatusCallback", callback)) }
        let credentials = Data("\(twilio.accountSID):\(twilio.authToken.value)".utf8).base64EncodedString()
        let (_, body) = try await http.post(
            url: url,
            headers: [("Authorization", "Basic \(credentials)"), ("Content-Type", "application/x-www-form-urlencoded")],
            body: ByteBuffer(string: FormEncoding.encode(fields)),
            describe: Self.describeError
        )
        let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        return json?["sid"] as? String
    }

    /// Twilio's error body carries `code` and `message`: both go into the history and the log.
    static func describeError(status: Int, body: ByteBuffer) -> String {
        let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        let code = (json?["code"] as? Int).map { " \($0)" } ?? ""
        let message = (json?["message"] as? String).map { ": \($0)" } ?? ""
        return "Twilio HTTP \(status)\(code)\(message)"
    }
}

/// `webhook` (the incident as JSON) and `slack` (incoming-webhook `{"text": …}`).
struct WebhookSender: NotificationSender {
    let url: String
    let slack: Bool
    let http: HTTPPoster

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        let payload: [String: Any] = slack ? ["text": notification.text] : IncidentPayload.json(incident, notification: notification)
        let data = (try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])) ?? Data()
        _ = try await http.post(url: url, headers: [("Content-Type", "application/json")],
                                   body: ByteBuffer(data: data)) { status, body in
            "HTTP \(status) from \(url.split(separator: "?")[0]): \(String(buffer: body).prefix(200))"
        }
        return nil
    }
}

/// `command`: runs the program with the incident as JSON on stdin; exit 0 is delivered.
struct CommandSender: NotificationSender {
    let argv: [String]
    let environment: [String: String]
    let timeout: Duration

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        let payload = IncidentPayload.json(incident, notification: notification)
        let data = (try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])) ?? Data()
        let status: Int32
        do {
            status = try await ProcessRunner.run(argv, environment: environment, stdin: data, timeout: timeout)
        } catch {
            throw .retryable("command \(argv[0]): \(error)")
        }
        guard status == 0 else { throw .retryable("command \(argv[0]) exited with status \(status)") }
        return nil
    }
}

/// `log`: a warning line in Tugboat's own log (the demo's default channel).
struct LogSender: NotificationSender {
    let logger: Logger

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        logger.warning("page", metadata: ["incident.id": "\(incident.id ?? 0)", "notification.kind": "\(notification.kind)",
                                          "text": "\(notification.text)"])
        return nil
    }
}

/// The JSON that webhooks and commands receive.
enum IncidentPayload {
    static func json(_ incident: IncidentRecord, notification: NotificationRecord) -> [String: Any] {
        let iso = ISO8601DateFormatter()
        var object: [String: Any] = [
            "incident": incident.id ?? 0, "outage": notification.alertGroup ?? 0, "rule": incident.rule, "target": incident.target, "state": incident.state.rawValue,
            "kind": notification.kind.rawValue, "summary": incident.summary, "text": notification.text,
            "started_at": iso.string(from: incident.startedAt),
        ]
        if let fired = incident.firedAt { object["fired_at"] = iso.string(from: fired) }
        if let resolved = incident.resolvedAt { object["resolved_at"] = iso.string(from: resolved) }
        if let acknowledged = incident.acknowledgedAt { object["acknowledged_at"] = iso.string(from: acknowledged) }
        if let flamegraph = incident.flamegraph { object["flamegraph"] = flamegraph }
        return object
    }
}

enum FormEncoding {
    static func encode(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
