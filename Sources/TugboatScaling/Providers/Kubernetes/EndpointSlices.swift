import Foundation
import TugboatCore

/// The fields of a `discovery.k8s.io/v1` EndpointSlice that Tugboat reads.
struct EndpointSlice: Decodable, Sendable, Equatable {
    struct Metadata: Decodable, Sendable, Equatable {
        var name: String?
        var resourceVersion: String?
    }
    struct Conditions: Decodable, Sendable, Equatable {
        var ready: Bool?
        var serving: Bool?
        var terminating: Bool?
    }
    struct Reference: Decodable, Sendable, Equatable {
        var kind: String?
        var name: String?
    }
    struct Endpoint: Decodable, Sendable, Equatable {
        var addresses: [String]
        var conditions: Conditions?
        var targetRef: Reference?
    }
    struct Port: Decodable, Sendable, Equatable {
        var name: String?
        var port: Int?
        var `protocol`: String?
    }

    var metadata: Metadata
    var addressType: String?
    var endpoints: [Endpoint]?
    var ports: [Port]?
}

struct EndpointSliceList: Decodable, Sendable {
    struct Metadata: Decodable, Sendable {
        var resourceVersion: String?
    }
    var metadata: Metadata
    var items: [EndpointSlice]
}

/// One endpoint of the service as the pool sees it.
package struct ServiceEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The pod's name (`targetRef.name`), or the address when the slice names none.
    package var name: String
    package var address: HostPort
    /// `conditions.ready`: true or absent (the API: read an unknown state as ready).
    package var ready: Bool
    /// `conditions.serving`: absent means as `ready`.
    package var serving: Bool
    /// `conditions.terminating`: absent means not terminating.
    package var terminating: Bool

    package var description: String { "\(name) \(address)" }

    /// Takes new requests: ready and not terminating.
    package var takesTraffic: Bool { ready && !terminating }
}

/// One line of a watch: `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": …}`.
enum WatchEvent: Sendable, Equatable {
    case added(EndpointSlice)
    case modified(EndpointSlice)
    case deleted(EndpointSlice)
    /// Only `metadata.resourceVersion` is meaningful.
    case bookmark(resourceVersion: String?)
    /// The object is a `Status` (410 Expired: list again).
    case error(code: Int, reason: String?, message: String)

    private struct Kind: Decodable { var type: String }
    private struct Object<T: Decodable>: Decodable { var object: T }
    private struct Status: Decodable {
        var code: Int?
        var reason: String?
        var message: String?
    }

    /// Nil for a line that is not a watch event (it is skipped and logged by the caller).
    static func parse(_ line: Data) -> WatchEvent? {
        let decoder = JSONDecoder()
        guard let kind = try? decoder.decode(Kind.self, from: line) else { return nil }
        switch kind.type {
        case "ADDED", "MODIFIED", "DELETED":
            guard let slice = try? decoder.decode(Object<EndpointSlice>.self, from: line).object else { return nil }
            return kind.type == "ADDED" ? .added(slice) : kind.type == "MODIFIED" ? .modified(slice) : .deleted(slice)
        case "BOOKMARK":
            let meta = try? decoder.decode(Object<EndpointSlice>.self, from: line).object.metadata
            return .bookmark(resourceVersion: meta?.resourceVersion)
        case "ERROR":
            let status = try? decoder.decode(Object<Status>.self, from: line).object
            return .error(code: status?.code ?? 500, reason: status?.reason, message: status?.message ?? "")
        default:
            return nil
        }
    }
}

/// The service's EndpointSlices as last listed and watched, and the endpoints they add up to.
/// Pure: the watcher feeds it the list and each event and acts on what it answers.
struct EndpointSliceIndex: Sendable {
    /// The EndpointSlice port name to dial, or nil for each slice's first port.
    let portName: String?
    private(set) var slices: [String: EndpointSlice] = [:]
    /// Where a watch resumes: the list's, then each event's (bookmarks included).
    private(set) var resourceVersion: String?

    init(portName: String?) {
        self.portName = portName
    }

    enum Outcome: Equatable {
        /// The endpoints may have changed.
        case changed
        /// Only the resourceVersion moved (a bookmark).
        case unchanged
        /// The watch cannot go on from here (410 Gone / Expired): list again.
        case relist(String)
        /// Another ERROR event: the watch ends; resume it after a backoff.
        case failed(String)
    }

    mutating func replace(with list: EndpointSliceList) {
        slices = [:]
        for slice in list.items { slices[slice.metadata.name ?? ""] = slice }
        resourceVersion = list.metadata.resourceVersion
    }

    mutating func apply(_ event: WatchEvent) -> Outcome {
        switch event {
        case .added(let slice), .modified(let slice):
            slices[slice.metadata.name ?? ""] = slice
            resourceVersion = slice.metadata.resourceVersion ?? resourceVersion
            return .changed
        case .deleted(let slice):
            slices.removeValue(forKey: slice.metadata.name ?? "")
            resourceVersion = slice.metadata.resourceVersion ?? resourceVersion
            return .changed
        case .bookmark(let version):
            resourceVersion = version ?? resourceVersion
            return .unchanged
        case .error(let code, let reason, let message):
            if code == 410 || reason == "Expired" || reason == "Gone" {
                resourceVersion = nil
                return .relist("\(code) \(reason ?? ""): \(message)")
            }
            return .failed("\(code) \(reason ?? ""): \(message)")
        }
    }

    /// Every endpoint of every slice, dialled at the chosen port of its own slice; an address in
    /// several slices (while slices are being rebalanced) counts once, its best conditions winning.
    var endpoints: [ServiceEndpoint] {
        var byAddress: [HostPort: ServiceEndpoint] = [:]
        for name in slices.keys.sorted() {
            let slice = slices[name]!
            guard slice.addressType == nil || slice.addressType == "IPv4" || slice.addressType == "IPv6" else { continue }
            let ports = slice.ports ?? []
            let chosen = portName.map { wanted in ports.first { $0.name == wanted } } ?? ports.first
            guard let number = chosen?.port, (1...65535).contains(number), chosen?.protocol ?? "TCP" == "TCP" else { continue }
            for endpoint in slice.endpoints ?? [] {
                guard let address = endpoint.addresses.first else { continue }
                let ready = endpoint.conditions?.ready ?? true
                let entry = ServiceEndpoint(name: endpoint.targetRef?.name ?? "\(address):\(number)",
                                            address: HostPort(host: address, port: number), ready: ready,
                                            serving: endpoint.conditions?.serving ?? ready,
                                            terminating: endpoint.conditions?.terminating ?? false)
                if let seen = byAddress[entry.address], seen.takesTraffic || !entry.takesTraffic { continue }
                byAddress[entry.address] = entry
            }
        }
        return byAddress.values.sorted { $0.address < $1.address }
    }
}
