import Foundation
import Testing

@Suite("CLI end to end", .serialized)
struct CLITests {
    func writeConfig(_ yaml: String) throws -> String {
        let path = NSTemporaryDirectory() + "tugboat-cli-\(UUID().uuidString).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("collapse perf --demangle shows Swift frames as source; without it they stay as perf printed them")
    func collapseDemangle() throws {
        let script = NSTemporaryDirectory() + "tugboat-cli-\(UUID().uuidString).perf"
        try """
        demo-app 4242 [000] 1.000001: 1000000 cpu-clock:
        \t    55d0c0ffee00 $s7tugboat14DemoAppHandlerC7burnCPU12millisecondsS2i_tFTf4nd_n+0x20 (/usr/bin/tugboat)
        \t    55d0c0ffef00 main+0x10 (/usr/bin/tugboat)

        """.appending("\n").write(toFile: script, atomically: true, encoding: .utf8)
        // (A blank line ends a sample, as in perf script's output; weighted by perf's period,
        // 1,000,000 ns of cpu-clock.)
        #expect(try Self.output(["collapse", "perf", "--demangle", script]) == "demo-app;main;DemoAppHandler.burnCPU(milliseconds:) 1000000\n")
        #expect(try Self.output(["collapse", "perf", script]) == "demo-app;main;$s7tugboat14DemoAppHandlerC7burnCPU12millisecondsS2i_tFTf4nd_n 1000000\n")
    }

    @Test("flamegraph and collapse perf print the same bytes, errors and exit status with or without ArgumentParser parsing their plain command lines")
    func fastCommandLineMatchesArgumentParser() throws {
        let folded = NSTemporaryDirectory() + "tugboat-cli-\(UUID().uuidString).folded"
        try "main;run;compute 40\nmain;run;io 12\nmain;idle 3\n".write(toFile: folded, atomically: true, encoding: .utf8)
        let script = NSTemporaryDirectory() + "tugboat-cli-\(UUID().uuidString).perf"
        try "app 7 [000] 1.0: 250 cpu-clock:\n\t 11 leaf+0x1 ([kernel.kallsyms])\n\t 22 main (/usr/bin/app)\n\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: folded)
            try? FileManager.default.removeItem(atPath: script)
        }
        let lines: [[String]] = [
            ["flamegraph", folded],
            ["flamegraph", "--title", "checkout service", "--width", "900", "--colors", "java", "--hash", folded],
            ["flamegraph", folded, "--minwidth=2%", "--inverted", "--countname", "ms", "--fontsize", "10.5"],
            ["flamegraph", "--width", "5", folded],            // out of range: ArgumentParser's error
            ["flamegraph", "--colors", "plaid", folded],
            ["flamegraph", "--widht", "900", folded],          // a typo
            ["flamegraph", "--title", folded],                 // the file taken as the title: standard input is empty
            ["flamegraph", "--help"],
            ["flamegraph", folded, folded],
            ["flamegraph", "/nonexistent/tugboat.folded"],    // an error while running
            ["collapse", "perf", script],
            ["collapse", "--kernel", "perf", "--pid", script, "--threads", "1"],
            ["collapse", "perf", "--event-filter=cycles", script],
            ["collapse", "perf", "--threads", "many", script],
            ["collapse", "perf", "/nonexistent/tugboat.perf"],
            ["collapse", "pyspy", folded],
        ]
        for line in lines {
            let fast = try Self.run(line)
            let parsed = try Self.run(line, environment: ["TUGBOAT_ARGUMENT_PARSER_ONLY": "1"])
            #expect(fast.status == parsed.status, "\(line)")
            #expect(fast.stdout == parsed.stdout, "\(line)")
            #expect(fast.stderr == parsed.stderr, "\(line)")
        }
        // The fast path ran: an SVG came out of the plain line.
        #expect(try Self.run(["flamegraph", folded]).stdout.contains("<title>compute (40 samples, 72.73%)</title>"))
    }

    /// Runs tugboat to its end (standard input empty) and returns its exit status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tugboatExecutable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Standard error read on a thread of its own, so that neither pipe fills while the other is read.
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errors.data = (try? err.fileHandleForReading.readToEnd()) ?? Data()
            done.signal()
        }.start()
        let outData = try out.fileHandleForReading.readToEnd() ?? Data()
        done.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errors.data, as: UTF8.self))
    }

    /// Runs tugboat to its end and returns what it printed on stdout.
    static func output(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tugboatExecutable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = try pipe.fileHandleForReading.readToEnd() ?? Data()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("check accepts a good file and exits 0")
    func checkGood() throws {
        let path = try writeConfig("listen: 127.0.0.1:8080\npool:\n  backends: [127.0.0.1:9001]\n")
        let child = try ChildProcess(arguments: ["check", "--config", path])
        #expect(child.waitForExit() == 0)
        #expect(child.lines.joined().contains("ok"))
    }

    @Test("examples/tugboat.yaml shows every section and passes check without any environment set")
    func exampleFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("examples/tugboat.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for section in ["listen:", "admin:", "state:", "log:", "access-log:", "pool:", "monitors:", "alerts:", "scaling:", "profiling:", "tls:"] {
            #expect(text.contains(section), "examples/tugboat.yaml lacks \(section)")
        }
        let child = try ChildProcess(arguments: ["check", "--config", path],
                                     environment: ["TWILIO_AUTH_TOKEN": "", "TUGBOAT_ADMIN_TOKEN": ""])
        #expect(child.waitForExit() == 0, "\(child.lines)")
    }

    @Test("examples/ansible/tugboat.yaml passes check")
    func ansibleExampleFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let child = try ChildProcess(arguments: ["check", "--config", root.appendingPathComponent("examples/ansible/tugboat.yaml").path])
        #expect(child.waitForExit() == 0, "\(child.lines)")
    }

    @Test("check and serve refuse a bad file with FILE:LINE: message naming the key, exit 1")
    func checkBad() throws {
        let path = try writeConfig("listen: 127.0.0.1:8080\npool:\n  backends: [127.0.0.1:9001]\n  health: { rise: -1 }\n")
        for command in ["check", "serve"] {
            let child = try ChildProcess(arguments: [command, "--config", path])
            #expect(child.waitForExit() == 1)
            #expect(child.lines.contains("\(path):4: 'pool.health.rise' must be between 1 and 100, got -1"), "\(child.lines)")
        }
    }

    @Test("--version names the version and commit; an unknown --log-level or --log-format is an error, not info")
    func versionAndLogFlags() throws {
        let version = try ChildProcess(arguments: ["--version"])
        #expect(version.waitForExit() == 0)
        #expect(version.lines.contains { $0.range(of: #"^tugboat \d+\.\d+\.\d+ \(\S+\)$"#, options: .regularExpression) != nil }, "\(version.lines)")
        let path = try writeConfig("listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\npool:\n  backends: [127.0.0.1:9001]\n")
        for flags in [["--log-level", "loud"], ["--log-format", "xml"]] {
            let child = try ChildProcess(arguments: ["serve", "--config", path] + flags)
            #expect(child.waitForExit() != 0)
            #expect(child.lines.joined().contains("\(flags[0]) must be"), "\(child.lines)")
        }
    }

    @Test("a listen address in use is an error that names the address and the key, exit 1")
    func bindError() throws {
        let busy = try DemoBackend()
        let path = try writeConfig("listen: \(busy.address)\nadmin: { listen: 127.0.0.1:0 }\nstate: sqlite:\(NSTemporaryDirectory())tugboat-cli-\(UUID().uuidString).db\npool:\n  backends: [127.0.0.1:9]\n")
        let child = try ChildProcess(arguments: ["serve", "--config", path])
        #expect(child.waitForExit() == 1)
        #expect(child.lines.contains("error: cannot listen on \(busy.address) ('listen'): Address already in use"), "\(child.lines)")
        // Held by another program, not another Tugboat: no seamless-upgrade takeover.
        #expect(!child.lines.contains { $0.contains("taking over") }, "\(child.lines)")
    }

    @Test("--log-format json writes every line as a JSON object")
    func jsonLogs() throws {
        let path = try writeConfig("listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nstate: sqlite:\(NSTemporaryDirectory())tugboat-cli-\(UUID().uuidString).db\npool:\n  backends: [127.0.0.1:9]\n")
        let child = try ChildProcess(arguments: ["serve", "--config", path, "--log-format", "json"])
        let line = try child.waitForLine { $0.contains("proxy listening") }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        #expect(object["message"] as? String == "proxy listening")
        #expect((object["listen.address"] as? String)?.hasPrefix("127.0.0.1:") == true)
        child.stop()
    }

    @Test("demo runs the proxy in front of two demo-app children and stops them on exit")
    func demo() throws {
        let ports = try (0..<4).map { _ in try freePort() }
        let child = try ChildProcess(arguments: [
            "demo", "--port", "\(ports[0])", "--admin-port", "\(ports[1])", "--backend-ports", "\(ports[2]),\(ports[3])",
        ])
        _ = try child.waitForLine { $0.contains("in a browser: the dashboard") }
        try waitUntilBlocking("both demo backends healthy") {
            let pool = try TestHTTPClient.get(port: ports[1], "/api/pool").bodyText
            return pool.components(separatedBy: "\"healthy\"").count == 3
        }
        #expect(try TestHTTPClient.get(port: ports[1], "/").bodyText.contains("<title>Tugboat</title>"), "the dashboard")
        var backends = Set<String>()
        for _ in 0..<4 {
            let response = try TestHTTPClient.get(port: ports[0], "/work?ms=1")
            #expect(response.status == 200)
            backends.insert(response.header("x-backend") ?? "?")
        }
        #expect(backends == ["127.0.0.1:\(ports[2])", "127.0.0.1:\(ports[3])"])
        child.signal(SIGINT)
        #expect(child.waitForExit() == 0)
        try waitUntilBlocking("demo-app children gone") {
            (try? TestHTTPClient(port: ports[2])) == nil && (try? TestHTTPClient(port: ports[3])) == nil
        }
    }
}

@Suite("Running under a service manager", .serialized)
struct ServiceManagerTests {
    @Test("NOTIFY_SOCKET hears READY=1 once listening, RELOADING=1 then READY=1 on SIGHUP (which never stops Tugboat), STOPPING=1 on SIGTERM")
    func notifyProtocol() throws {
        let notify = try NotifySocket()
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address], environment: ["NOTIFY_SOCKET": notify.path])
        #expect(notify.next()?.hasPrefix("READY=1") == true)
        for _ in 0..<3 {
            tugboat.child.signal(SIGHUP)
            let reloading = notify.next()
            #expect(reloading?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true, "\(reloading ?? "nothing")")
            #expect(notify.next()?.hasPrefix("READY=1") == true)
        }
        // Still serving after the hangups.
        try tugboat.waitHealthy([backend.address])
        #expect(try TestHTTPClient(port: tugboat.port).request("GET", "/").status == 200)
        tugboat.child.signal(SIGTERM)
        #expect(notify.next() == "STOPPING=1")
        #expect(tugboat.child.waitForExit() == 0)
        #expect(!tugboat.child.lines.contains { $0.contains("Cannot schedule tasks") }, "a clean stop says nothing of event loops")
    }
}

@Suite("Running unprivileged", .serialized)
struct UnprivilegedTests {
    @Test("as an ordinary user (no CAP_NET_ADMIN), as the packaged service runs, Tugboat accepts and proxies (it once set SO_DEBUG instead of TCP_NODELAY, refused without the capability)")
    func servesAsNobody() throws {
        let backend = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [backend.address],
                                           launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
        try tugboat.waitHealthy([backend.address])
        let client = try TestHTTPClient(port: tugboat.port)
        for _ in 0..<3 { #expect(try client.request("GET", "/echo").status == 200) }
        let status = try String(contentsOfFile: "/proc/\(tugboat.child.pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t65534"), "the test must really run it unprivileged")
    }
}
