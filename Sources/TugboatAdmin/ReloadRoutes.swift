import Foundation
import Hummingbird

/// What a config reload did: the sections it changed (none when the file is the same), or why
/// it refused the file (`FILE:LINE: message`, or the settings that need a restart).
package enum ReloadOutcome: Sendable, Equatable {
    case applied(changed: [String])
    case refused(String)
}

/// Re-reads the config file and applies the difference (implemented by the executable).
package protocol ConfigReloading: Sendable {
    func reload() async -> ReloadOutcome
}

enum ReloadRoutes {
    /// `POST /api/reload`: 200 `{"changed":[...]}`, or 422 `{"error":"FILE:LINE: message"}` with
    /// the old config still running.
    static func add(_ group: RouterGroup<BasicRequestContext>, state: AdminState) {
        struct Changed: Encodable { var changed: [String] }
        group.post("/api/reload") { _, _ -> Response in
            guard let reloader = state.reloader else { return AdminServer.jsonError(.notImplemented, "no config file to reload") }
            switch await reloader.reload() {
            case .applied(let changed): return try Response.json(Changed(changed: changed))
            case .refused(let reason): return AdminServer.jsonError(.unprocessableContent, reason)
            }
        }
    }
}
