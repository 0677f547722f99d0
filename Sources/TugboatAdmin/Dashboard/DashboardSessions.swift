import Foundation
import Synchronization

/// The dashboard's logins: after `POST /api/session` with the admin token, the browser holds a
/// random session id in an `HttpOnly`, `SameSite=Strict` cookie instead of the token, so the
/// token is never kept by the page, put in a URL or logged. Sessions live 12 hours, in memory (a
/// restart logs everyone out); at most 1,000 (the oldest goes first).
package final class DashboardSessions: Sendable {
    package static let cookieName = "tugboat_session"
    static let lifetime: TimeInterval = 12 * 3600
    static let limit = 1000

    private let sessions = Mutex<[String: Date]>([:])

    package init() {}

    /// A new session id (256 random bits, hex), valid until `now + lifetime`.
    func create(now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value > now }
            if sessions.count >= Self.limit, let oldest = sessions.min(by: { $0.value < $1.value }) {
                sessions.removeValue(forKey: oldest.key)
            }
            sessions[id] = now.addingTimeInterval(Self.lifetime)
        }
        return id
    }

    func isValid(_ id: String, now: Date = Date()) -> Bool {
        guard id.utf8.count == 64 else { return false }
        return sessions.withLock { sessions in
            // Compared by dictionary lookup of the whole id: nothing about a near miss leaks.
            guard let expiry = sessions[id] else { return false }
            if expiry <= now { sessions.removeValue(forKey: id); return false }
            return true
        }
    }

    func remove(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// The session id in a `Cookie` header, if any.
    static func id(inCookieHeader header: String?) -> String? {
        guard let header else { return nil }
        for pair in header.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
