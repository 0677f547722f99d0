import TugboatStore

/// Each destination — a channel, and the number it calls or texts — is a lane: one delivery at a
/// time in a lane, the oldest due first; lanes never wait for one another, so a webhook that hangs
/// holds up its own lane only, never a Twilio call or another channel. Pure.
struct OutboxLanes: Sendable {
    struct Lane: Hashable, Sendable {
        var channel: String
        var recipient: String?

        init(_ notification: NotificationRecord) {
            channel = notification.channel
            recipient = notification.recipient
        }
    }

    /// Lanes with a delivery under way.
    private(set) var busy: Set<Lane> = []

    /// From the due notifications (oldest first), the first of each idle lane; those lanes are busy
    /// until ``release(_:)``.
    mutating func claim(_ due: [NotificationRecord]) -> [NotificationRecord] {
        due.filter { busy.insert(Lane($0)).inserted }
    }

    mutating func release(_ notification: NotificationRecord) {
        busy.remove(Lane(notification))
    }
}
