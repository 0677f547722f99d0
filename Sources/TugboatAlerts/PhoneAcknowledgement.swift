/// Acknowledging from the phone, as text: reading an SMS reply (`ACK 12`) and the TwiML Tugboat
/// answers Twilio with (an SMS `<Message>` back, or a `<Say>` in the call). Pure.
package enum PhoneAcknowledgement {
    /// How to acknowledge, for replies Tugboat cannot act on.
    package static let usage = "To acknowledge a page, reply ACK and the code the page gave, for example: ACK 7"

    /// The code of an SMS reply: `ACK 12`, `ack #12`, ` Ack  # 12 ` and `ACK12` are 12 (any case,
    /// whitespace around); anything else, or a code that is not a positive number, is nil.
    package static func code(inReply body: String) -> Int64? {
        var rest = Substring(body.trimmingCharacters(in: .whitespacesAndNewlines))
        guard rest.count > 3, rest.prefix(3).lowercased() == "ack" else { return nil }
        rest = rest.dropFirst(3).drop { $0.isWhitespace }
        if rest.first == "#" { rest = rest.dropFirst().drop { $0.isWhitespace } }
        guard (1...18).contains(rest.count), rest.allSatisfy({ $0.isASCII && $0.isNumber }), let code = Int64(rest), code > 0 else {
            return nil
        }
        return code
    }

    /// The TwiML answering an SMS reply. `code` nil: the body was not `ACK <code>`; `outcome` nil:
    /// nothing was tried (the sender may not acknowledge).
    package static func smsAnswer(code: Int64?, outcome: AcknowledgeOutcome?) -> String {
        let text: String
        switch (code, outcome) {
        case (let code?, .acknowledged(let outage)?): text = "Acknowledged #\(code): \(outage)"
        case (let code?, .alreadyAcknowledged(let outage)?): text = "#\(code) was already acknowledged: \(outage)"
        case (let code?, .resolved(let outage)?): text = "#\(code) is already resolved, nothing to acknowledge: \(outage)"
        case (let code?, .unknown?): text = "Tugboat has no outage #\(code), so nothing was acknowledged. \(usage)"
        case (_?, nil): text = "This number is not one Tugboat pages, so nothing was acknowledged."
        case (nil, _): text = "Sorry, Tugboat did not understand that. \(usage)"
        }
        return "<Response><Message>" + Message.xmlEscape(Message.smsBody(text)) + "</Message></Response>"
    }

    /// The TwiML answering the call's "press 1": `outcome` nil when nothing was acknowledged
    /// (another key, no code).
    package static func voiceAnswer(code: Int64?, outcome: AcknowledgeOutcome?) -> String {
        let text: String
        switch (code, outcome) {
        case (let code?, .acknowledged?): text = "Outage \(code) acknowledged. Thank you."
        case (let code?, .alreadyAcknowledged?): text = "Outage \(code) was already acknowledged."
        case (let code?, .resolved?): text = "Outage \(code) is already resolved."
        case (let code?, .unknown?): text = "Tugboat has no outage \(code). Not acknowledged."
        default: text = "Not acknowledged."
        }
        return "<Response><Say>" + Message.xmlEscape(text) + "</Say></Response>"
    }

    /// Who pressed 1. Tugboat places the calls (`Direction` `outbound-api`), so the person is the
    /// called party, `To`; on a call someone placed to Tugboat's number it would be `From`.
    package static func person(inVoiceCallback fields: [String: String]) -> String {
        if fields["Direction"]?.hasPrefix("outbound") == true, let to = fields["To"], !to.isEmpty { return to }
        return fields["From"] ?? "phone"
    }
}
