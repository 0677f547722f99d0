import Foundation
import Testing
import TugboatCore
import TugboatRedis

@testable import TugboatCluster

@Suite("Cluster formats (pure)")
struct ClusterFormatTests {
    @Test("registry entries are the documented JSON and read back")
    func registryEntryJSON() throws {
        let entry = RegistryEntry(state: .healthy, providerID: "pid-7", since: Date(timeIntervalSince1970: 1_738_324_800.9), origin: .scaler)
        let json = ClusterJSON.encode(entry)
        #expect(json == #"{"origin":"scaler","provider_id":"pid-7","since":"2025-01-31T12:00:00Z","state":"healthy"}"#)
        #expect(ClusterJSON.decode(RegistryEntry.self, from: json) == entry)
        let handWritten = #"{"state":"draining","since":"2025-01-31T12:00:00.250Z","origin":"static"}"#
        #expect(ClusterJSON.decode(RegistryEntry.self, from: handWritten)?.providerID == "")
        #expect(ClusterJSON.decode(RegistryEntry.self, from: #"{"state":"lost","since":"x","origin":"static"}"#) == nil)
    }

    @Test("incident keys and the mirror's JSON keep milliseconds exactly")
    func incidentKey() throws {
        let firedAt = Date(timeIntervalSince1970: 1_738_324_800.123)
        let key = IncidentKey(rule: "backend-down", target: "127.0.0.1:9001", firedAt: firedAt)
        #expect(key.description == "backend-down|127.0.0.1:9001|2025-01-31T12:00:00.123Z")
        #expect(ClusterKeys.page(key, channel: "sms", kind: "trigger") == "tugboat:page:backend-down|127.0.0.1:9001|2025-01-31T12:00:00.123Z:sms:trigger")
        let incident = OpenIncident(state: .firing, firedAt: firedAt, node: "n1")
        let json = ClusterJSON.encode(incident)
        #expect(json == #"{"fired_at":"2025-01-31T12:00:00.123Z","node":"n1","state":"firing"}"#)
        let back = try #require(ClusterJSON.decode(OpenIncident.self, from: json))
        #expect(back == incident)
        #expect(back.key(rule: "backend-down", target: "127.0.0.1:9001") == key)
        #expect(IncidentKey(rule: "r", target: "", firedAt: Date(timeIntervalSince1970: 5.0006)).description == "r||1970-01-01T00:00:05.001Z")
    }

    @Test("keys of a pool")
    func keys() {
        let keys = ClusterKeys(pool: "web")
        #expect([keys.instances, keys.count, keys.version, keys.channel, keys.leader, keys.epoch, keys.incidents] == [
            "tugboat:web:instances", "tugboat:web:count", "tugboat:web:version", "tugboat:web",
            "tugboat:web:leader", "tugboat:web:epoch", "tugboat:web:incidents",
        ])
    }

    @Test("GET /api/cluster JSON: leader null when unknown")
    func statusJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let down = ClusterStatus(node: "n1", leader: nil, epoch: 3, redis: .down)
        #expect(String(decoding: try encoder.encode(down), as: UTF8.self) == #"{"epoch":3,"leader":null,"mode":"cluster","node":"n1","redis":"down"}"#)
    }

    @Test("Redis errors become clear cluster errors")
    func errors() {
        #expect(ClusterError(RedisError.server("STALE_EPOCH 3 4")) == .staleEpoch(write: 3, current: 4))
        #expect(ClusterError(RedisError.notConnected) == .redisUnavailable(RedisError.notConnected.description))
        #expect(ClusterError.staleEpoch(write: 3, current: 4).description.contains("stale"))
    }

    @Test("an unknown state in Redis is an error naming it (the entry is skipped with that reason), not a crash")
    func unknownStates() {
        let incident = #"{"fired_at":"2025-01-31T12:00:00.123Z","node":"n1","state":"exploded"}"#
        #expect(throws: UnreadableJSON.self) { try ClusterJSON.decoding(OpenIncident.self, from: incident) }
        do {
            _ = try ClusterJSON.decoding(RegistryEntry.self, from: #"{"state":"lost","since":"2025-01-31T12:00:00Z","origin":"static"}"#)
            Issue.record("an unknown backend state was read")
        } catch {
            #expect(error.description == #"state: unknown backend state "lost" (expected one of: starting, healthy, unhealthy, draining)"#)
        }
    }
}
