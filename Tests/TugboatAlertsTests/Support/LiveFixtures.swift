import AsyncHTTPClient
import Foundation
import Logging
import TugboatAlerts
import TugboatCore
import TugboatStore

/// An incident and its notifications as the outbox hands them to a sender.
enum LiveFixtures {
    static var incident: IncidentRecord {
        var incident = IncidentRecord(rule: "front-down", target: "front", state: .firing, summary: "HTTP 503", startedAt: Date())
        incident.id = 42
        incident.firedAt = Date()
        return incident
    }

    static func notification(_ kind: String = "trigger", channel: String = "test",
                             text: String = "[tugboat] FIRING #42 front-down: HTTP 503") -> NotificationRecord {
        var notification = NotificationRecord(incident: 42, channel: channel, recipient: nil, kind: try! NotificationKind(wire: kind), text: text, at: Date())
        notification.id = 7
        notification.alertGroup = 5
        return notification
    }

    /// Runs `body` with an HTTP client that is shut down afterwards.
    static func withClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The sender `Senders.make` builds for the channel, as Tugboat runs it.
    static func sender(_ channel: ChannelConfig, client: HTTPClient, timeout: Duration = .seconds(5)) -> NotificationSender {
        Senders.make(channel, client: client, timeout: timeout, logger: Logger(label: "test"))
    }

    /// The error `send` threw, or nil when it delivered.
    static func deliveryError(_ sender: NotificationSender, _ notification: NotificationRecord) async -> DeliveryError? {
        do {
            _ = try await sender.send(notification, incident: incident)
            return nil
        } catch {
            return error
        }
    }
}
