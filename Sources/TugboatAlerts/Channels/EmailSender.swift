import Foundation
import NIOCore
import TugboatCore
import TugboatStore

/// `email`: one mail to every address in `to` over SMTP (STARTTLS or smtps://, AUTH PLAIN or LOGIN).
/// The server's 4xx replies and connection failures are retried, its 5xx replies are not.
struct EmailSender: NotificationSender {
    let email: EmailConfig
    let timeout: Duration
    let group: any EventLoopGroup

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        let content = Self.content(email, notification: notification, incident: incident, at: Date())
        let settings = SMTPConversation.Settings(clientName: "[127.0.0.1]", security: email.security, username: email.username,
                                                 password: email.password, content: content)
        try await SMTPTransport.deliver(to: .init(host: email.host, port: email.port, caFile: email.caFile),
                                        settings: settings, timeout: timeout, group: group)
        return "<\(content.messageID)>"
    }

    /// Subject: the page's first line; body: the page, then the incident's facts.
    static func content(_ email: EmailConfig, notification: NotificationRecord, incident: IncidentRecord, at now: Date) -> EmailContent {
        let iso = ISO8601DateFormatter()
        var facts = ["Incident: #\(incident.id ?? 0) \(incident.rule) on \(incident.target)", "State: \(incident.state)",
                     "Started: \(iso.string(from: incident.startedAt))"]
        if let fired = incident.firedAt { facts.append("Fired: \(iso.string(from: fired))") }
        if let acknowledged = incident.acknowledgedAt { facts.append("Acknowledged: \(iso.string(from: acknowledged))") }
        if let resolved = incident.resolvedAt { facts.append("Resolved: \(iso.string(from: resolved))") }
        if let flamegraph = incident.flamegraph { facts.append("Flame graph: \(flamegraph)") }
        facts.append("Page key: \(notification.pageKey)")
        let body = notification.text + "\n\n" + facts.joined(separator: "\n") + "\n\n-- \nSent by Tugboat (\(notification.kind)).\n"
        let domain = email.from.split(separator: "@").last.map(String.init) ?? "tugboat.invalid"
        let messageID = "tugboat.\(notification.id ?? 0).\(UUID().uuidString.lowercased())@\(domain)"
        return EmailContent(from: email.from, to: email.to, subject: EmailMessage.subject(for: notification.text),
                            body: body, date: now, messageID: messageID)
    }
}
