/// Why a notification could not be delivered, and whether trying again can help.
package enum DeliveryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 429, 5xx, timeouts, refused connections: try again later (after `retryAfter` if the provider said).
    case retryable(String, retryAfter: Duration? = nil)
    /// A permanent refusal (Twilio 21211 invalid number, 20003 bad credentials): mark failed.
    case permanent(String)

    package var description: String {
        switch self {
        case .retryable(let reason, _): reason
        case .permanent(let reason): reason
        }
    }
}
