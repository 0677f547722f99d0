import Foundation
import NIOCore
import Testing
@testable import TugboatAdmin
import TugboatCore

@Suite("Admin access: Host names, flame-graph keys, JSON writes, the head deadline")
struct AdminAccessTests {
    let access = AdminAccess(hostNames: ["tugboat.internal", "ops.example.com"], linkExpiry: .seconds(3600))

    @Test("IP addresses, localhost and the configured names are answered; any other name is not")
    func hosts() {
        for host in ["127.0.0.1", "127.0.0.1:8081", "[::1]:8081", "::1", "10.1.2.3:80", "localhost:8081", "LOCALHOST",
                     "tugboat.internal:8081", "Ops.Example.Com.", nil, ""] {
            #expect(access.allows(host: host), "\(host ?? "nil")")
        }
        for host in ["evil.example", "evil.example:8081", "tugboat.internal.evil.example", "localhost.evil.example", "127.0.0.1.nip.io"] {
            #expect(!access.allows(host: host), "\(host)")
        }
    }

    @Test("the config's names: the listener's, admin.url's and alerts.public-url's hosts")
    func namesFromConfig() {
        let admin = AdminConfig(listen: HostPort(host: "tugboat-admin", port: 8081), token: Secret("t0ken"), url: "https://admin.example.com")
        let access = AdminAccess(admin: admin, publicURL: "https://hooks.example.com/tugboat")
        #expect(access.hostNames == ["tugboat-admin", "admin.example.com", "hooks.example.com"])
    }

    @Test("a link's key opens while its incident is open and until link-expiry after it resolved; a wrong key never")
    func keys() {
        let now = Date()
        #expect(access.keyOpens("abc123", linkKey: "abc123", resolvedAt: nil, now: now))
        #expect(access.keyOpens("abc123", linkKey: "abc123", resolvedAt: now.addingTimeInterval(-3599), now: now))
        #expect(!access.keyOpens("abc123", linkKey: "abc123", resolvedAt: now.addingTimeInterval(-3601), now: now))
        #expect(!access.keyOpens("abc124", linkKey: "abc123", resolvedAt: nil, now: now))
        #expect(!access.keyOpens("abc12", linkKey: "abc123", resolvedAt: nil, now: now))
        #expect(!access.keyOpens(nil, linkKey: "abc123", resolvedAt: nil, now: now))
        #expect(!access.keyOpens("abc123", linkKey: nil, resolvedAt: nil, now: now))
    }

    @Test("only application/json (with parameters, any case) counts as JSON")
    func json() {
        #expect(AdminAccess.isJSON("application/json"))
        #expect(AdminAccess.isJSON("Application/JSON; charset=utf-8"))
        for type in [nil, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/jsonx"] as [String?] {
            #expect(!AdminAccess.isJSON(type), "\(type ?? "nil")")
        }
    }

    @Test("a head must be complete within the header timeout of its first byte; no deadline during a request or while idle")
    func headDeadline() {
        var machine = AdminHeadDeadline(header: .seconds(10))
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(machine.deadline == nil)
        machine.bytesArrived(at: t0)  // connected
        #expect(machine.deadline == t0 + .seconds(10))
        machine.bytesArrived(at: t0 + .seconds(5))  // more of the head: the deadline does not move
        #expect(machine.deadline == t0 + .seconds(10))
        #expect(!machine.expired(at: t0 + .seconds(9)))
        #expect(machine.expired(at: t0 + .seconds(10)))
        machine.headComplete()
        #expect(machine.deadline == nil)
        machine.bytesArrived(at: t0 + .seconds(30))  // a slow body is not a head
        #expect(machine.deadline == nil)
        machine.responseEnded()
        #expect(machine.deadline == nil)  // idle: the idle timeout's business
        machine.bytesArrived(at: t0 + .seconds(40))
        #expect(machine.deadline == t0 + .seconds(50))
    }
}

@Suite("Admin API error bodies")
struct AdminErrorBodyTests {
    @Test("any message makes valid JSON: backslashes, newlines, tabs, control characters and quotes")
    func validJSON() throws {
        let message = "C:\\path \"quoted\"\nsecond line\tand \u{01} a control byte / a slash"
        let body = AdminServer.errorBody(message)
        #expect(body.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])
        #expect(object == ["error": "C:\\path 'quoted'\nsecond line\tand \u{01} a control byte / a slash"])
    }
}
