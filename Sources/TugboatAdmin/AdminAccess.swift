import Foundation
import Hummingbird
import TugboatCore

/// Who may talk to the admin listener beyond its bearer token: the `Host` names it answers to
/// (DNS rebinding), and how long a flame-graph link's key opens its graph. Pure.
package struct AdminAccess: Sendable, Equatable {
    /// Host names (lower case) accepted in `Host` besides IP addresses and `localhost`: the
    /// listener's own name, `admin.url`'s host and `alerts.public-url`'s host (Twilio's callbacks).
    package var hostNames: Set<String> = []
    /// A flame-graph link's key opens the graph while its incident is open and this long after it
    /// resolved (`profiling.link-expiry`).
    package var linkExpiry: Duration = Self.defaultLinkExpiry
    /// `profiling.link-expiry`'s default (TugboatCapture's `ProfilingSettings.defaultLinkExpiry`).
    package static let defaultLinkExpiry: Duration = .seconds(24 * 3600)

    package init(hostNames: Set<String> = [], linkExpiry: Duration = Self.defaultLinkExpiry) {
        self.hostNames = hostNames
        self.linkExpiry = linkExpiry
    }

    /// The listener's own name, `admin.url`'s host and `alerts.public-url`'s host are answered.
    package init(admin: AdminConfig, publicURL: String?, linkExpiry: Duration = Self.defaultLinkExpiry) {
        var names: Set<String> = [admin.listen.host.lowercased()]
        for url in [admin.url, publicURL].compactMap({ $0 }) {
            if let host = URLComponents(string: url)?.host { names.insert(host.lowercased()) }
        }
        self.init(hostNames: names, linkExpiry: linkExpiry)
    }

    /// Whether a request with this `Host` header may be answered. An IP address cannot be
    /// rebound, so any is accepted; a name must be `localhost` or one of ``hostNames``. A request
    /// without `Host` (HTTP/1.0) is accepted: browsers always send one.
    package func allows(host header: String?) -> Bool {
        guard let header, !header.isEmpty else { return true }
        let name = Self.hostName(header)
        if Self.isIPAddress(name) { return true }
        var lower = name.lowercased()
        if lower.hasSuffix(".") { lower.removeLast() }
        return lower == "localhost" || hostNames.contains(lower)
    }

    /// `Host` without its port; `[::1]:8081` → `::1`.
    static func hostName(_ header: String) -> String {
        if header.hasPrefix("["), let end = header.firstIndex(of: "]") {
            return String(header[header.index(after: header.startIndex)..<end])
        }
        if let colon = header.lastIndex(of: ":"), header.filter({ $0 == ":" }).count == 1 {
            return String(header[..<colon])
        }
        return header
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// Whether a `Content-Type` is `application/json` (parameters and case aside).
    package static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }

    /// Whether a flame-graph link's `key` opens the incident's graph now: the key matches (compared
    /// in constant time) and the incident is open or resolved less than ``linkExpiry`` ago.
    package func keyOpens(_ given: String?, linkKey: String?, resolvedAt: Date?, now: Date = Date()) -> Bool {
        guard let given, let linkKey, ConstantTime.equal(given, linkKey) else { return false }
        guard let resolvedAt else { return true }
        return now.timeIntervalSince(resolvedAt) < linkExpiry.seconds
    }
}

/// Comparisons of secrets that take the same time whatever the input.
enum ConstantTime {
    static func equal(_ a: String, _ b: String) -> Bool {
        equal(Array(a.utf8), Array(b.utf8))
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

/// 421 for a `Host` the admin listener does not answer to: a page on another site whose name was
/// pointed at this address (DNS rebinding) reads and changes nothing.
struct HostCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AdminAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard access.allows(host: request.head.authority) else {
            return AdminServer.jsonError(.misdirectedRequest, "this admin API does not answer to that Host (set 'admin.url' to the name you use)")
        }
        return try await next(request, context)
    }
}

/// 415 for a write (`POST`, `PUT`, `PATCH`, `DELETE`) without `Content-Type: application/json`:
/// a browser cannot send that type to another site without asking first (CORS), so a page
/// cannot post a form at the admin API (CSRF).
struct JSONWritesMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let writes: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]
        guard !writes.contains(request.method) || AdminAccess.isJSON(request.headers[.contentType]) else {
            return AdminServer.jsonError(.unsupportedMediaType, "writes need 'Content-Type: application/json'")
        }
        return try await next(request, context)
    }
}
