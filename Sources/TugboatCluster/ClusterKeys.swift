/// The Redis keys of one pool. Everything a cluster of Tugboat nodes shares lives here, so the
/// layout can be read (and repaired) with `redis-cli`:
///
/// | key | type | content |
/// | --- | --- | --- |
/// | `tugboat:<pool>:instances` | hash | address `host:port` → JSON `{"state":"starting\|healthy\|unhealthy\|draining","provider_id":"…","since":"2025-01-31T12:00:00Z","origin":"static\|admin\|scaler"}` |
/// | `tugboat:<pool>:count` | string | number of instances (`HLEN` of the hash) |
/// | `tugboat:<pool>:version` | string | registry version, incremented in the same Lua script as every change |
/// | `tugboat:<pool>` | pub/sub channel | `PUBLISH tugboat:<pool> <version>` after every change (a nudge; nodes also re-read every few seconds) |
/// | `tugboat:<pool>:leader` | string, with TTL | node id of the leader (the only node that scales and pages); lease of 3 s renewed every 1 s |
/// | `tugboat:<pool>:epoch` | string | leader term, incremented on every election; writes made as leader carry it and are refused when older |
/// | `tugboat:<pool>:incidents` | hash | open incidents: `rule\|target` → JSON `{"state":"firing","fired_at":"2025-01-31T12:00:00.123Z","node":"…"}`; removed when resolved |
/// | `tugboat:<pool>:silences` | hash | silences (`/api/silences`): id → JSON `{"comment":"…","created_at":"…","created_by":"…","ends":"2025-01-31T14:00:00.000Z","matchers":{"rule":"…"},"starts":"…"}`; ended ones go a day after their end |
/// | `tugboat:<pool>:silence-id` | string | the last silence id given (`INCR`) |
/// | `tugboat:<pool>:acme:certificate:<domains>` | string | `tls.acme`'s certificate for the comma-joined domains, JSON `{"chain_pem","key_pem","not_before","not_after","obtained_at"}` (the private key in clear: Redis' password guards it) |
/// | `tugboat:<pool>:acme:account:<directory URL>` | string | the ACME account, JSON `{"key_pem","url"}` |
/// | `tugboat:<pool>:acme:challenge:<token>` | string, TTL 10 min | an HTTP-01 key authorization being validated (any node's redirect listener answers it) |
/// | `tugboat:<pool>:acme:renew` | string, TTL 10 min | a renewal asked for on a node that is not the leader (the leader takes it) |
/// | `tugboat:page:<rule>\|<target>\|<fired_at>:<channel>:<kind>` | string, TTL 7 days | node that sent this page (claimed with `SET … NX` before sending) |
///
/// Examples: `redis-cli HGETALL tugboat:web:instances`, `redis-cli GET tugboat:web:leader`,
/// `redis-cli SUBSCRIBE tugboat:web`.
package struct ClusterKeys: Sendable, Hashable {
    /// The pool name the keys are scoped to.
    package let pool: String

    package init(pool: String) {
        self.pool = pool
    }

    var prefix: String { "tugboat:\(self.pool)" }
    /// The registry hash.
    package var instances: String { "\(self.prefix):instances" }
    package var count: String { "\(self.prefix):count" }
    package var version: String { "\(self.prefix):version" }
    /// The pub/sub channel that carries each new version.
    package var channel: String { self.prefix }
    package var leader: String { "\(self.prefix):leader" }
    package var epoch: String { "\(self.prefix):epoch" }
    package var incidents: String { "\(self.prefix):incidents" }
    package var silences: String { "\(self.prefix):silences" }
    package var silenceID: String { "\(self.prefix):silence-id" }

    /// `tls.acme`'s shared state: `certificate:<domains>`, `account:<directory>`, `challenge:<token>`, `renew`.
    package func acme(_ name: String) -> String { "\(self.prefix):acme:\(name)" }

    /// The claim key of one page (not scoped to the pool: an incident key is cluster-wide).
    package static func page(_ incident: IncidentKey, channel: String, kind: String) -> String {
        "tugboat:page:\(incident):\(channel):\(kind)"
    }
}
