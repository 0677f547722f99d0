import Foundation
import TugboatStore

/// How a page's text (``OutageText``) is put on each medium: spoken TwiML, an SMS body.
package enum Message {
    /// `<Response><Say>…</Say></Response>`, XML-escaped, at most 4000 characters (Twilio's limit).
    package static func twiml(_ text: String) -> String {
        let prefix = "<Response><Say>", suffix = "</Say></Response>"
        return prefix + fitted(xmlEscape(spoken(text)), room: 4000 - prefix.count - suffix.count) + suffix
    }

    /// The text as a voice says it.
    static func spoken(_ text: String) -> String {
        text.replacingOccurrences(of: "[tugboat]", with: "Tugboat alert.")
    }

    /// Escaped XML text cut to `room` characters, never in the middle of an entity.
    static func fitted(_ escaped: String, room: Int) -> String {
        guard escaped.count > room else { return escaped }
        let cut = String(escaped.prefix(max(room, 0)))
        if let amp = cut.lastIndex(of: "&"), !cut[amp...].contains(";") { return String(cut[..<amp]) }
        return cut
    }

    package static func xmlEscape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    /// An SMS body of at most 1600 characters (Twilio's limit).
    package static func smsBody(_ text: String) -> String {
        text.count <= 1600 ? text : String(text.prefix(1599)) + "…"
    }
}
