/// Acknowledges an outage by the code its pages carry (`ACK 12` in an SMS reply, "press 1" in the
/// call). Implemented by ``AlertManager``; the admin listener's Twilio callbacks call it.
package protocol PageAcknowledging: Sendable {
    /// `by` is who acknowledged: the phone number that replied, or `api`.
    func acknowledge(code: Int64, by: String) async -> AcknowledgeOutcome
}

package enum AcknowledgeOutcome: Sendable, Equatable {
    /// Acknowledged now: reminders and escalation stop. The associated text names the outage.
    case acknowledged(String)
    /// It was acknowledged before (by someone else, or an earlier reply).
    case alreadyAcknowledged(String)
    /// It is over: nothing to acknowledge.
    case resolved(String)
    /// No outage has this code.
    case unknown
}
