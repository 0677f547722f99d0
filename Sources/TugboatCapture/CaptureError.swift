/// Why a capture could not be made.
package enum CaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The profiler this source needs is missing or unusable (the text says which and what to do).
    case unavailable(String)
    /// No instance is attached at this address.
    case notAttached(String)
    /// A helper (perf, py-spy) could not be started or failed.
    case toolFailed(String)
    /// The instance could not be profiled (a fetch failed, no samples were recorded, a bad push).
    case noProfile(String)
    /// A push that the source does not take, or that cannot be parsed.
    case badPush(String)
    /// A profile (pushed or fetched) larger than `profiling.max-body`, or that inflates beyond
    /// `profiling.max-decompressed`; nothing more than the limit was held.
    case tooLarge(String)

    package var description: String {
        switch self {
        case .unavailable(let text), .toolFailed(let text), .noProfile(let text), .badPush(let text), .tooLarge(let text): text
        case .notAttached(let address):
            "profiling: no instance \(address) is attached (profiling starts when an instance turns healthy: this one never did, or is gone)"
        }
    }
}
