import TugboatCore
import TugboatStore

/// How a page asks to be acknowledged from the phone: an SMS ends with `Reply ACK <code> to
/// acknowledge.`, a call says `Press 1 to acknowledge.` inside a `<Gather>` whose answer Twilio
/// posts to `<public-url>/api/twilio/voice?code=<code>`. The code is the outage's id.
extension Message {
    /// The code a page asks to be acknowledged with: its outage's, unless the page says the outage
    /// is over or already acknowledged (or was written before outages were grouped).
    package static func acknowledgeCode(_ notification: NotificationRecord) -> Int64? {
        guard let group = notification.alertGroup, notification.kind != .resolve, notification.kind != .acknowledge else {
            return nil
        }
        return group
    }

    /// The SMS body, at most 1600 characters: the text is trimmed, never the instruction.
    package static func smsBody(_ text: String, acknowledgeCode code: Int64?) -> String {
        guard let code else { return smsBody(text) }
        let instruction = " Reply ACK \(code) to acknowledge."
        let room = 1600 - instruction.count
        let body = text.count <= room ? text : String(text.prefix(room - 1)) + "…"
        return body + instruction
    }

    /// The call's TwiML, at most 4000 characters, XML-escaped. With a code and a public URL the
    /// text is said inside a one-digit `<Gather>`; without either it is ``twiml(_:)``.
    package static func twiml(_ text: String, acknowledgeCode code: Int64?, publicURL: String?) -> String {
        guard let code, let publicURL, !publicURL.isEmpty else { return twiml(text) }
        let base = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        let action = xmlEscape("\(base)/api/twilio/voice?code=\(code)")
        let prefix = "<Response><Gather numDigits=\"1\" action=\"\(action)\" method=\"POST\"><Say>"
        let suffix = " Press 1 to acknowledge.</Say></Gather><Say>Not acknowledged.</Say></Response>"
        return prefix + fitted(xmlEscape(spoken(text)), room: 4000 - prefix.count - suffix.count) + suffix
    }
}
