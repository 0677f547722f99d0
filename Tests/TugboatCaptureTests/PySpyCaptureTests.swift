import Foundation
import Testing
import TugboatCore
@testable import TugboatCapture

/// A small Python HTTP backend: `/health`, `/work?ms=N` spins in `tugboat_capture_hot_loop`,
/// `/exit` ends the process.
let pythonBackend = """
    import http.server, os, sys, time, urllib.parse

    def tugboat_capture_hot_loop(ms):
        end = time.perf_counter() + ms / 1000.0
        n = 0
        while time.perf_counter() < end:
            n += 1
        return n

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path == "/exit":
                os._exit(3)
            if url.path == "/work":
                ms = int(urllib.parse.parse_qs(url.query).get("ms", ["5"])[0])
                tugboat_capture_hot_loop(ms)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """

@Suite("py-spy source", .serialized, .timeLimit(.minutes(2)))
struct PySpyCaptureTests {
    @Test func liveAndExitSnapshotsHaveTheHotFunction() async throws {
        try requireTool("py-spy", install: "pip install py-spy")
        let python = try #require(ToolLocator.find("python3", path: ProcessInfo.processInfo.environment["PATH"]), "python3 is not on PATH")
        let temp = try TempDirectory()
        defer { temp.remove() }
        let script = "\(temp.path)/backend.py"
        try pythonBackend.write(toFile: script, atomically: true, encoding: .utf8)
        let port = try freePort()
        let app = try Backend(python, [script, String(port)], port: port)
        defer { app.kill() }
        try await app.waitHealthy()

        let settings = CaptureSettings(source: .pySpy, window: .seconds(6), slice: .seconds(2), directory: "\(temp.path)/capture")
        let supervisor = CaptureSupervisor(settings: settings, logger: testLogger)
        #expect(await supervisor.attach(address: app.address, pid: app.pid) == nil)

        // py-spy starts in a moment (longer through a pyenv shim): load until a live snapshot shows it.
        // Each round loads for a whole slice, so a snapshot (which stops the run in progress)
        // never cuts a slow-starting py-spy short every time; a failure names the last answer.
        var live: CapturedProfile?
        var lastAnswer = "no snapshot yet"
        do {
            try await waitUntil("a live py-spy snapshot with the hot function", timeout: .seconds(60)) {
                _ = await load(port: port, "/work?ms=5", for: .seconds(2))
                do {
                    live = try await supervisor.snapshot(address: app.address, reason: "on demand")
                    lastAnswer = "a snapshot without it: \(live?.foldedText.prefix(500) ?? "")"
                } catch {
                    lastAnswer = "\(error)"
                }
                return live?.foldedText.contains("tugboat_capture_hot_loop") == true
            }
        } catch {
            Issue.record("the last snapshot: \(lastAnswer)")
            throw error
        }
        #expect(live?.instanceExited == false)

        _ = await load(port: port, "/work?ms=5", for: .seconds(1))
        _ = await get(port: port, "/exit")
        try await app.waitExited()
        let crash = try await supervisor.snapshot(address: app.address, reason: "crashed")
        #expect(crash.instanceExited)
        #expect(crash.foldedText.contains("tugboat_capture_hot_loop"), "\(crash.foldedText.prefix(2000))")
        #expect(String(decoding: crash.svg, as: UTF8.self).contains("tugboat_capture_hot_loop"))

        await supervisor.detach(address: app.address)
        #expect(profilers("py-spy", mentioning: temp.path).isEmpty)
        #expect(temp.leftovers("capture").isEmpty)
    }
}
