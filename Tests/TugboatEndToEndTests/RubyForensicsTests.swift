import Foundation
import Testing

/// Crash forensics for a Ruby app, the original system's own stack: a Rack app (WEBrick) started
/// by the process provider pushes stackprof samples through `examples/ruby/tugboat_stackprof.rb`
/// with `profiling.push-token`, burns CPU in a method of a known name, then dies with `exit!`.
@Suite("Crash forensics for a Ruby app (stackprof push)", .serialized)
struct RubyForensicsTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/ruby").path

    @Test("a Rack app killed with exit! under load pages with a flame graph naming its hot method; the push takes the push token, not the admin token")
    func crashedRubyApp() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/ruby"),
                     "needs ruby, ruby-stackprof, ruby-rack, ruby-webrick (apt-get install ruby ruby-stackprof ruby-rack ruby-webrick)")
        let contract = try ContractServer()
        let admin = try freePort()
        let base = 20_000 + Int.random(in: 0..<400) * 50
        let top = """
        scaling:
          provider:
            process:
              command: "ruby \(Self.examples)/demo_app.rb {port}"
              ports: \(base)-\(base + 49)
              env: { TUGBOAT_ADMIN_URL: "http://127.0.0.1:\(admin)", TUGBOAT_PUSH_TOKEN: "push-secret-1" }
          min: 1
          max: 1
          target-rps: 1000
        profiling: { source: push, window: 5s, push-token: push-secret-1 }
        """ + "\n" + CrashPages.alertsYAML(contract)
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, adminToken: "admin-secret-1",
                                           environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken],
                                           adminListen: "127.0.0.1:\(admin)")
        var instance = ""
        try waitUntilBlocking(timeout: .seconds(30), "the Ruby instance serving") {
            instance = try tugboat.pool().first { $0["state"] as? String == "healthy" }?["address"] as? String ?? ""
            return !instance.isEmpty
        }
        let load = LoadLoop(port: tugboat.port, path: "/work?ms=5")
        try waitUntilBlocking(timeout: .seconds(30), "load through Tugboat") { load.done > 200 }

        // The push route takes the push token; the admin API does not.
        let pool = try TestHTTPClient(port: admin).request("GET", "/api/pool", headers: ["Authorization": "Bearer push-secret-1", "Connection": "close"])
        #expect(pool.status == 401)
        let wrong = try TestHTTPClient(port: admin).request("POST", "/api/instances/\(instance)/stacks",
                                                            headers: ["Authorization": "Bearer nope", "Connection": "close", "Content-Type": "application/json"],
                                                            body: "{}")
        #expect(wrong.status == 401)
        // A truncated stackprof dump is refused with a clear answer, and loses nothing pushed before.
        let truncated = try TestHTTPClient(port: admin).request("POST", "/api/instances/\(instance)/stacks",
                                                                headers: ["Authorization": "Bearer push-secret-1", "Connection": "close", "Content-Type": "application/json"],
                                                                body: "{\"mode\":\"cpu\",\"raw\":[3,1,2")
        #expect(truncated.status == 400)
        #expect(String(decoding: truncated.body, as: UTF8.self).contains("stackprof"), "\(String(decoding: truncated.body, as: UTF8.self))")

        let port = try #require(Int(instance.split(separator: ":").last ?? ""))
        _ = try? TestHTTPClient(port: port).request("GET", "/crash", headers: ["Connection": "close"])
        let (_, _, svg) = try CrashPages.flameGraph(of: instance, tugboat: tugboat, contract: contract, adminPort: admin)
        load.finish()
        #expect(svg.contains("RubyDemo#burn_cpu"), "the Ruby app's hot method is in the flame graph: \(svg.prefix(1500))")
        tugboat.stop()
    }
}
