import Foundation
import Testing

/// The dashboard at the admin listener's `/`: the page and its login, the live feed, and a real
/// browser (chromium through Playwright) using it against a running Tugboat.
@Suite("Dashboard", .serialized)
struct DashboardTests {
    static let token = "dash-board-token-0123456789"
    static let environment = ["TEST_TWILIO_TOKEN": ContractServer.authToken]

    /// `curl` for `seconds` (the feed never ends): what it received, headers included.
    static func curl(_ arguments: [String], seconds: Int = 3) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "-N", "-i", "--max-time", "\(seconds)"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The events of a server-sent event stream: (event, id, data).
    static func events(_ text: String) -> [(event: String, id: Int, data: String)] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var event = "", id = 0, data: [String] = []
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("id: ") { id = Int(line.dropFirst(4)) ?? 0 }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            return event.isEmpty ? nil : (event, id, data.joined(separator: "\n"))
        }
    }

    @Test("the page, a token login into an HttpOnly SameSite=Strict cookie, the live feed with it, and CSRF refused")
    func pageLoginFeed() throws {
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], adminToken: Self.token)
        try tugboat.waitHealthy([backend.address])
        let page = try TestHTTPClient(port: tugboat.adminPort).request("GET", "/", headers: ["Connection": "close"])
        #expect(page.status == 200)
        #expect(page.bodyText.contains("<title>Tugboat</title>") && !page.bodyText.contains(Self.token))
        let csp = page.headers.first { $0.0.lowercased() == "content-security-policy" }?.1 ?? ""
        #expect(csp.contains("default-src 'self'"), "\(csp)")
        for asset in ["/dashboard/app.js", "/dashboard/app.css"] {
            #expect(try TestHTTPClient(port: tugboat.adminPort).request("GET", asset, headers: ["Connection": "close"]).status == 200)
        }
        // Without a session: the API is closed, the session route says a token is needed.
        #expect(try TestHTTPClient(port: tugboat.adminPort).request("GET", "/api/events", headers: ["Connection": "close"]).status == 401)
        let anonymous = try TestHTTPClient(port: tugboat.adminPort).request("GET", "/api/session", headers: ["Connection": "close"]).bodyText
        #expect(anonymous.contains(#""token_required":true"#) && anonymous.contains(#""authenticated":false"#))
        // A wrong token: 401 and no cookie.
        let wrong = try TestHTTPClient(port: tugboat.adminPort).request(
            "POST", "/api/session", headers: ["Content-Type": "application/json", "Connection": "close"], body: #"{"token":"guess"}"#)
        #expect(wrong.status == 401)
        #expect(!wrong.headers.contains { $0.0.lowercased() == "set-cookie" })
        // The right one: a session cookie that is not the token.
        let login = try TestHTTPClient(port: tugboat.adminPort).request(
            "POST", "/api/session", headers: ["Content-Type": "application/json", "Connection": "close"], body: #"{"token":"\#(Self.token)"}"#)
        #expect(login.status == 204)
        let setCookie = try #require(login.headers.first { $0.0.lowercased() == "set-cookie" }?.1)
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && !setCookie.contains(Self.token), "\(setCookie)")
        let cookie = String(setCookie.split(separator: ";")[0])

        // The feed: every section at once, then the traffic each second.
        let stream = try Self.curl(["-H", "Cookie: \(cookie)", "http://127.0.0.1:\(tugboat.adminPort)/api/events"], seconds: 3)
        #expect(stream.lowercased().contains("content-type: text/event-stream"), "\(stream.prefix(300))")
        let events = Self.events(stream)
        let names = Set(events.map(\.event))
        #expect(names.isSuperset(of: ["pool", "traffic", "history", "incidents", "notifications", "settings", "cluster", "profiles"]), "\(names)")
        let pool = try #require(events.first { $0.event == "pool" })
        #expect(pool.data.contains(#""address":"\#(backend.address)""#) && pool.data.contains(#""state":"healthy""#), "\(pool.data)")
        #expect(events.filter { $0.event == "traffic" }.count >= 2, "a traffic point each second")
        #expect(events.map(\.id) == Array(1...events.count), "ids go up by one")
        // Reconnecting with Last-Event-ID: numbered after it.
        let resumed = Self.events(try Self.curl(["-H", "Cookie: \(cookie)", "-H", "Last-Event-ID: 41",
                                                 "http://127.0.0.1:\(tugboat.adminPort)/api/events"], seconds: 2))
        #expect(resumed.first?.id == 42)

        // A change with the cookie needs the CSRF header (a cross-site form cannot send it).
        let forged = try TestHTTPClient(port: tugboat.adminPort).request(
            "DELETE", "/api/pool/backends/\(backend.address)", headers: ["Cookie": cookie, "Content-Type": "application/json", "Connection": "close"])
        #expect(forged.status == 403)
        #expect(try tugboat.state(of: backend.address) == "healthy")
        let drained = try TestHTTPClient(port: tugboat.adminPort).request(
            "DELETE", "/api/pool/backends/\(backend.address)", headers: ["Cookie": cookie, "X-Tugboat-CSRF": "1", "Content-Type": "application/json", "Connection": "close"])
        #expect(drained.status == 202)
        // Logging out ends the session.
        _ = try TestHTTPClient(port: tugboat.adminPort).request("DELETE", "/api/session", headers: ["Cookie": cookie, "Connection": "close"])
        #expect(try TestHTTPClient(port: tugboat.adminPort).request("GET", "/api/pool", headers: ["Cookie": cookie, "Connection": "close"]).status == 401)
        #expect(!tugboat.child.lines.contains { $0.contains(Self.token) })
        tugboat.stop()
    }

    @Test("in chromium: live pool, an outage's incident acknowledged from the page, the Twilio sid, flame graphs zoomed and compared, phone width, nothing but 127.0.0.1")
    func inTheBrowser() throws {
        guard BrowserDriver.available else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("chromium or Playwright missing: scripts/test.sh installs them") }
            return
        }
        let contract = try ContractServer()
        let first = try DemoBackend(), second = try DemoBackend()
        let alerts = "alerts:\n  retry: { first: 100ms, max: 300ms }\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n"
            + contract.channelsYAML() + "\n  rules:\n    - { name: backend-down, condition: backend-down, channels: [call, sms] }\n"
            + "profiling: { source: push, window: 60s }\n"
        let tugboat = try TugboatUnderTest(backends: [first.address, second.address], extraTop: alerts, adminToken: Self.token,
                                           environment: Self.environment)
        try tugboat.waitHealthy([first.address, second.address])
        // Two captures of pushed stacks, to open and to compare.
        for stacks in ["main;serve;parse 40\nmain;serve;render 60\n", "main;serve;parse 80\nmain;serve;render 20\nmain;gc 10\n"] {
            // Pushes are taken once the instance is attached to profiling (just after it turns healthy).
            try waitUntilBlocking("stacks pushed") { try tugboat.post("/api/instances/\(first.address)/stacks", body: stacks).status == 202 }
            let captured = try tugboat.post("/api/instances/\(first.address)/profile", body: "")
            #expect(captured.status == 201, "\(captured)")
        }
        // Some traffic for the chart while the browser looks (a request every 20 ms at most).
        let (proxyPort, child) = (tugboat.port, tugboat.child)
        let traffic = Thread {
            let end = Date().addingTimeInterval(120)
            while Date() < end && child.process.isRunning {
                _ = try? TestHTTPClient.get(port: proxyPort, "/")
                usleep(20_000)
            }
        }
        traffic.start()

        let browser = try BrowserDriver()
        defer { browser.quit() }
        let url = "http://127.0.0.1:\(tugboat.adminPort)/"
        try browser.send(["cmd": "open", "url": url])
        let refused = try browser.send(["cmd": "login", "token": "wrong"], timeout: 20)
        #expect(refused["logged_in"] as? Bool == false && (refused["error"] as? String)?.contains("Wrong token") == true, "\(refused)")
        let accepted = try browser.send(["cmd": "login", "token": Self.token])
        #expect(accepted["logged_in"] as? Bool == true, "\(accepted)")
        try browser.send(["cmd": "wait", "selector": "#pool-rows tr[data-address='\(second.address)']", "text": "healthy"])
        try browser.send(["cmd": "wait", "selector": "#live", "text": "live"])

        // A backend dies: its row turns unhealthy without a reload; the incident appears.
        second.kill()
        try browser.send(["cmd": "wait", "selector": "#pool-rows tr[data-address='\(second.address)']", "text": "unhealthy", "timeout": 10000])
        try waitUntilBlocking("the incident") { try tugboat.incidents().contains { $0["state"] as? String == "firing" } }
        let incident = try #require(try tugboat.incidents().first { $0["state"] as? String == "firing" }?["id"] as? Int)
        try browser.send(["cmd": "wait", "selector": "#incident-rows tr[data-incident='\(incident)']", "text": "firing"])
        try browser.send(["cmd": "click", "selector": "#incident-rows tr[data-incident='\(incident)'] button"])
        try waitUntilBlocking("acknowledged through the page") {
            try tugboat.incidents().first { $0["id"] as? Int == incident }?["state"] as? String == "acknowledged"
        }
        try browser.send(["cmd": "wait", "selector": "#incident-rows tr[data-incident='\(incident)']", "text": "acknowledged"])
        // The call's Twilio sid, as the contract server gave it.
        try waitUntilBlocking("the call's sid") { try tugboat.notifications().contains { $0["channel"] as? String == "call" && $0["provider_id"] is String } }
        let sid = try #require(try tugboat.notifications().first { $0["channel"] as? String == "call" }?["provider_id"] as? String)
        try browser.send(["cmd": "wait", "selector": "#notification-rows", "text": sid])
        let recipients = try browser.send(["cmd": "text", "selector": "#notification-rows"])["text"] as? String ?? ""
        #expect(recipients.contains("+1•••••0001") && !recipients.contains("+15550100001"), "masked: \(recipients.prefix(300))")

        // Flame graphs: one opens inside the page and zooms on a click; two compare.
        try browser.send(["cmd": "wait", "selector": "#profile-rows tr[data-profile]"])
        try browser.send(["cmd": "click", "selector": "#profile-rows tr[data-profile] button"])
        let zoom = try browser.send(["cmd": "zoom"])
        #expect(zoom["before"] as? String == "hide" && zoom["after"] as? String != "hide", "\(zoom)")
        try browser.send(["cmd": "click", "selector": "#profile-rows tr:nth-child(1) input"])
        try browser.send(["cmd": "click", "selector": "#profile-rows tr:nth-child(2) input"])
        try browser.send(["cmd": "click", "selector": "#diff"])
        let frame = try browser.send(["cmd": "eval", "js": "document.getElementById('flamegraph').src"])["value"] as? String ?? ""
        #expect(frame.contains("/diff?against="), "\(frame)")

        // Screenshots for the README, desktop and phone; the page as a paged person opens it.
        let screenshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/screenshots").path
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        try browser.send(["cmd": "screenshot", "path": screenshots + "/dashboard-desktop.png"])
        try browser.send(["cmd": "open", "url": url, "width": 390, "height": 844])
        try browser.send(["cmd": "wait", "selector": "#pool-rows tr[data-address='\(first.address)']", "text": "healthy"])
        let overflow = try browser.send(["cmd": "eval", "js": "document.documentElement.scrollWidth"])["value"] as? Int ?? 0
        #expect(overflow <= 390, "the page is \(overflow) px wide on a 390 px screen")
        try browser.send(["cmd": "screenshot", "path": screenshots + "/dashboard-phone.png"])

        // Speed: the median of three loads (the page's own Navigation Timing, request to load
        // event), and the browser's CPU while idle with the stream open.
        let loads = try (0..<3).map { _ in try browser.send(["cmd": "open", "url": url])["load_ms"] as? Double ?? 1e9 }.sorted()
        let load = loads[1]
        try browser.send(["cmd": "wait", "selector": "#live", "text": "live"])
        let idle = try browser.send(["cmd": "metrics", "seconds": 10], timeout: 60)["cpu_percent"] as? Double ?? 100
        print("dashboard: page load \(loads) ms (median \(load)), browser CPU while idle \(idle) %")
        #expect(load < 300, "page load \(load) ms")
        #expect(idle < 5, "idle CPU \(idle) %")

        // Nothing left 127.0.0.1; no console errors.
        let report = try browser.send(["cmd": "report"])
        let requests = report["requests"] as? [String] ?? []
        #expect(!requests.isEmpty && requests.allSatisfy { $0.hasPrefix("http://127.0.0.1:\(tugboat.adminPort)/") }, "\(requests)")
        #expect((report["console_errors"] as? [String] ?? []).isEmpty, "\(report)")
        tugboat.stop()
    }
}
