import NIOCore
import NIOHTTP1

/// The "rewrite request" and "rewrite response" phases: hop-by-hop headers out, forwarding headers in.
enum HeaderRewriter {
    /// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
    static let hopByHop: [String] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"]

    static let via = "1.1 tugboat"

    /// Whether the request asks to switch protocols (WebSocket and friends).
    static func isUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade") && connectionTokens(head.headers).contains("upgrade")
    }

    /// Rewrites a client's request for the backend. Returns the request id it carries.
    static func rewriteRequest(_ head: inout HTTPRequestHead, clientIP: String?, requestID: () -> String) -> String {
        let upgrade = isUpgrade(head)
        let upgradeValue = upgrade ? head.headers["upgrade"].first : nil
        stripHopByHop(&head.headers)
        if let upgradeValue {
            head.headers.add(name: "connection", value: "upgrade")
            head.headers.add(name: "upgrade", value: upgradeValue)
        }
        if let clientIP {
            if let existing = head.headers.first(name: "x-forwarded-for") {
                head.headers.replaceOrAdd(name: "x-forwarded-for", value: existing + ", " + clientIP)
            } else {
                head.headers.add(name: "x-forwarded-for", value: clientIP)
            }
        }
        head.headers.replaceOrAdd(name: "x-forwarded-proto", value: "http")
        if let host = head.headers.first(name: "host") {
            head.headers.replaceOrAdd(name: "x-forwarded-host", value: host)
        }
        appendVia(&head.headers)
        // Upstream always gets HTTP/1.1 keep-alive, whatever the client speaks.
        head.version = .http1_1
        if let id = head.headers.first(name: "x-request-id"), !id.isEmpty {
            return id
        }
        let id = requestID()
        head.headers.add(name: "x-request-id", value: id)
        return id
    }

    /// Rewrites a backend's response for the client.
    static func rewriteResponse(_ head: inout HTTPResponseHead, requestID: String, closeClient: Bool, version: HTTPVersion) {
        let switching = head.status == .switchingProtocols
        let upgradeValue = switching ? head.headers["upgrade"].first : nil
        stripHopByHop(&head.headers)
        if let upgradeValue {
            head.headers.add(name: "connection", value: "upgrade")
            head.headers.add(name: "upgrade", value: upgradeValue)
        } else if closeClient {
            head.headers.add(name: "connection", value: "close")
        } else if version == .http1_0 {
            head.headers.add(name: "connection", value: "keep-alive")
        }
        appendVia(&head.headers)
        if !head.headers.contains(name: "x-request-id") {
            head.headers.add(name: "x-request-id", value: requestID)
        }
        head.version = version
    }

    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        let named = connectionTokens(headers)
        for name in hopByHop { headers.remove(name: name) }
        for name in named where name != "close" && name != "keep-alive" && name != "upgrade" {
            headers.remove(name: name)
        }
    }

    private static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        headers[canonicalForm: "connection"].map { $0.lowercased() }
    }

    private static func appendVia(_ headers: inout HTTPHeaders) {
        if let existing = headers.first(name: "via") {
            headers.replaceOrAdd(name: "via", value: existing + ", " + via)
        } else {
            headers.add(name: "via", value: via)
        }
    }
}
