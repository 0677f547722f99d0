import Foundation
import NIOPosix
import Testing
@testable import TugboatACME

/// The real transport against a local misbehaving server (python3): an answer over 1 MiB and an
/// answer that never comes are errors, not a crash or a hang.
@Suite("ACME transport limits", .serialized)
struct HTTPTransportTests {
    /// A one-file HTTP server on a free loopback port: `/big` sends 2 MiB, `/silent` never answers.
    final class BadServer {
        let process = Process()
        let port: Int

        init() throws {
            let script = """
            import http.server, socketserver, sys, time
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    if self.path == "/silent":
                        time.sleep(30); return
                    body = b"x" * (2 << 20)
                    self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a): pass
            s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
            s.daemon_threads = True
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            var line = Data()
            while !line.contains(0x0A) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw ACMEError.malformed("no port from the test server")
            }
            self.port = port
        }

        deinit {
            // SIGKILL: the test process's blocked signals are inherited, so SIGTERM may never land.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test("an answer over 1 MiB is refused; a server that does not answer times out")
    func limits() async throws {
        let server = try BadServer()
        let transport = try HTTPTransport(ca: nil, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(2))
        do {
            _ = try await transport.send(method: "GET", url: "http://127.0.0.1:\(server.port)/big", body: nil)
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("larger than 1048576 bytes"), "\(error)")
        }
        let started = ContinuousClock.now
        do {
            _ = try await transport.send(method: "GET", url: "http://127.0.0.1:\(server.port)/silent", body: nil)
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("unreachable"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        await transport.shutdown()
    }
}
