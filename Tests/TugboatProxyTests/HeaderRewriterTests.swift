import NIOHTTP1
import Testing
@testable import TugboatProxy

@Suite("Header rewriting")
struct HeaderRewriterTests {
    @Test("request: hop-by-hop out (including those named by Connection), forwarding headers in")
    func request() {
        var head = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/", headers: [
            "Host": "example.com", "Connection": "keep-alive, X-Private", "X-Private": "1",
            "Keep-Alive": "timeout=5", "TE": "trailers", "Upgrade": "h2c", "X-Forwarded-For": "10.0.0.1",
            "Via": "1.0 edge",
        ])
        let id = HeaderRewriter.rewriteRequest(&head, clientIP: "127.0.0.9") { "generated-1" }
        #expect(id == "generated-1")
        #expect(head.version == .http1_1)
        for name in ["connection", "x-private", "keep-alive", "te", "upgrade"] { #expect(!head.headers.contains(name: name), "\(name)") }
        #expect(head.headers["x-forwarded-for"] == ["10.0.0.1, 127.0.0.9"])
        #expect(head.headers["x-forwarded-proto"] == ["http"])
        #expect(head.headers["x-forwarded-host"] == ["example.com"])
        #expect(head.headers["via"] == ["1.0 edge, 1.1 tugboat"])
        #expect(head.headers["x-request-id"] == ["generated-1"])
    }

    @Test("request: an existing X-Request-Id is kept; an upgrade keeps Upgrade and Connection")
    func upgradeAndID() {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws", headers: [
            "Connection": "Upgrade", "Upgrade": "websocket", "X-Request-Id": "mine",
        ])
        #expect(HeaderRewriter.isUpgrade(head))
        let id = HeaderRewriter.rewriteRequest(&head, clientIP: nil) { "never" }
        #expect(id == "mine")
        #expect(head.headers["upgrade"] == ["websocket"])
        #expect(head.headers["connection"] == ["upgrade"])
    }

    @Test("response: hop-by-hop out, Via and request id in, close when the client asked")
    func response() {
        var head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Connection": "close", "Keep-Alive": "x", "Content-Length": "3"])
        HeaderRewriter.rewriteResponse(&head, requestID: "r1", closeClient: true, version: .http1_1)
        #expect(head.headers["connection"] == ["close"])
        #expect(!head.headers.contains(name: "keep-alive"))
        #expect(head.headers["content-length"] == ["3"])
        #expect(head.headers["via"] == ["1.1 tugboat"])
        #expect(head.headers["x-request-id"] == ["r1"])

        var keep = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Connection": "close"])
        HeaderRewriter.rewriteResponse(&keep, requestID: "r2", closeClient: false, version: .http1_1)
        #expect(!keep.headers.contains(name: "connection"))  // backend's close is its own business
    }
}
