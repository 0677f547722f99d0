import Foundation
import Testing
import TugboatCore
@testable import TugboatScaling

/// EndpointSlices as the API sends them, read into the service's endpoints (pure).
struct EndpointSliceTests {
    func slice(_ name: String, version: String = "5", ports: String = #"[{"name":"metrics","port":9},{"name":"http","port":8080}]"#,
               endpoints: String) -> String {
        #"{"metadata":{"name":"\#(name)","resourceVersion":"\#(version)"},"addressType":"IPv4","ports":\#(ports),"endpoints":\#(endpoints)}"#
    }

    func event(_ type: String, _ object: String) -> WatchEvent? { WatchEvent.parse(Data(#"{"type":"\#(type)","object":\#(object)}"#.utf8)) }

    @Test("conditions read as the API documents: ready absent is ready, serving defers to ready, terminating absent is not")
    func conditions() throws {
        var index = EndpointSliceIndex(portName: "http")
        let endpoints = #"""
        [{"addresses":["10.0.0.1"],"targetRef":{"kind":"Pod","name":"web-a"}},
         {"addresses":["10.0.0.2"],"conditions":{"ready":false,"serving":true,"terminating":true},"targetRef":{"name":"web-b"}},
         {"addresses":["10.0.0.3"],"conditions":{"ready":false},"targetRef":{"name":"web-c"}}]
        """#
        #expect(index.apply(try #require(event("ADDED", slice("web-x", endpoints: endpoints)))) == .changed)
        let all = index.endpoints
        #expect(all.map(\.name) == ["web-a", "web-b", "web-c"])
        #expect(all.map(\.takesTraffic) == [true, false, false])
        #expect(all[1].serving && all[1].terminating)
        #expect(!all[2].serving && !all[2].terminating)
        #expect(all.allSatisfy { $0.address.port == 8080 }, "the port named http, not the first")
    }

    @Test("every slice of the service counts, each endpoint at its own slice's port; the first port without a name")
    func slicesJoin() throws {
        var index = EndpointSliceIndex(portName: nil)
        _ = index.apply(try #require(event("ADDED", slice("a", ports: #"[{"port":8080}]"#, endpoints: #"[{"addresses":["10.0.0.1"]}]"#))))
        _ = index.apply(try #require(event("ADDED", slice("b", ports: #"[{"port":9090}]"#, endpoints: #"[{"addresses":["10.0.0.2"]}]"#))))
        #expect(index.endpoints.map(\.address) == [HostPort(host: "10.0.0.1", port: 8080), HostPort(host: "10.0.0.2", port: 9090)])
        _ = index.apply(try #require(event("DELETED", slice("a", version: "7", endpoints: "[]"))))
        #expect(index.endpoints.map(\.address.host) == ["10.0.0.2"])
        #expect(index.resourceVersion == "7")
    }

    @Test("a slice without the named port is skipped (its endpoints cannot be dialled)")
    func missingPortName() throws {
        var index = EndpointSliceIndex(portName: "grpc")
        _ = index.apply(try #require(event("ADDED", slice("a", endpoints: #"[{"addresses":["10.0.0.1"]}]"#))))
        #expect(index.endpoints.isEmpty)
    }

    @Test("a bookmark only moves the resourceVersion; an ERROR 410 asks for a new list; another ERROR ends the watch")
    func bookmarksAndErrors() throws {
        var index = EndpointSliceIndex(portName: nil)
        let bookmark = try #require(event("BOOKMARK", #"{"kind":"EndpointSlice","metadata":{"resourceVersion":"42"}}"#))
        #expect(index.apply(bookmark) == .unchanged)
        #expect(index.resourceVersion == "42")
        let gone = try #require(event("ERROR", #"{"kind":"Status","status":"Failure","message":"too old resource version: 1 (40)","reason":"Expired","code":410}"#))
        guard case .relist = index.apply(gone) else { Issue.record("410 must re-list"); return }
        #expect(index.resourceVersion == nil)
        let other = try #require(event("ERROR", #"{"kind":"Status","code":500,"message":"etcd"}"#))
        guard case .failed = index.apply(other) else { Issue.record("500 must end the watch"); return }
        #expect(WatchEvent.parse(Data("not json".utf8)) == nil)
    }
}
