import Foundation
import Synchronization

/// What the contract server has seen and how it should answer next. Shared by all connections.
final class ContractState: Sendable {
    struct Recorded: Codable {
        var time: Double
        var path: String
        /// `call`, `sms`, `hook`, `slack`, `pagerduty`, `opsgenie-create`, `opsgenie-ack` or `opsgenie-close`.
        var kind: String
        /// The HTTP status answered.
        var status: Int
        var fields: [String: String]
        var body: String?
        var error: String?
    }

    let accountSID: String
    let authToken: String
    /// The PagerDuty `routing_key` and the Opsgenie `GenieKey` accepted (ProviderContracts.swift).
    let pagerDutyKey: String
    let opsgenieKey: String
    private let recorded = Mutex<[Recorded]>([])
    private let failures = Mutex<(mode: String, count: Int, path: String?)>(("", 0, nil))
    private let retryAfterValue = Mutex<String?>(nil)
    private let health = Mutex<(up: Bool, hits: Int)>((true, 0))
    private let sequence = Atomic<Int>(0)

    init(accountSID: String, authToken: String, pagerDutyKey: String = "contract-pd-key", opsgenieKey: String = "contract-og-key") {
        self.accountSID = accountSID
        self.authToken = authToken
        self.pagerDutyKey = pagerDutyKey
        self.opsgenieKey = opsgenieKey
    }

    func record(_ entry: Recorded) { recorded.withLock { $0.append(entry) } }
    var all: [Recorded] { recorded.withLock { $0 } }

    /// `path` nil: the API calls fail; a path (`/hook`, `/slack`): only the sink at that path does.
    /// `retryAfter`: the `Retry-After` header of a 429 or 503 answer.
    func setFailure(mode: String, count: Int, path: String? = nil, retryAfter: String? = nil) {
        failures.withLock { $0 = (mode, count, path) }
        retryAfterValue.withLock { $0 = retryAfter }
    }

    var retryAfter: String? { retryAfterValue.withLock { $0 } }

    /// The failure to inject into the next API call (or the next post to the sink at `path`), if any.
    func nextFailure(path: String? = nil) -> String? {
        failures.withLock { failure in
            guard failure.count > 0, failure.path == path else { return nil }
            failure.count -= 1
            return failure.mode
        }
    }

    func setHealth(up: Bool) { health.withLock { $0.up = up } }
    func hitHealth() -> Bool { health.withLock { $0.hits += 1; return $0.up } }
    var healthHits: Int { health.withLock { $0.hits } }

    /// A SID of Twilio's shape: two letters and 32 hex digits.
    func nextSID(prefix: String) -> String {
        let n = sequence.add(1, ordering: .relaxed).newValue
        return prefix + String(format: "%032x", n)
    }
}
