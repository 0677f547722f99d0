import Foundation
import TestSupport

/// A real SMTP server for the email channel's tests: `smtp_test_server.py` (aiosmtpd) on a free port
/// of 127.0.0.1, writing what it receives into a fresh temp directory.
final class SMTPTestServer: @unchecked Sendable {
    struct Options {
        var tls: TLS = .startTLS
        var user: String? = "tugboat"
        var password: String? = "correct horse battery"
        var loginOnly = false
        var failOnce451 = false
        enum TLS { case none, startTLS, implicit }
    }

    struct Received {
        var meta: [String: Any]
        var raw: String
        /// Header name (lower-cased) → value, unfolded.
        var headers: [String: String]
        var body: String
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("smtp_test_server.py").path

    /// Whether `python3 -c 'import aiosmtpd'` works here.
    static let available: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import aiosmtpd"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    /// Run where aiosmtpd is installed, and always in CI (where a missing aiosmtpd must fail, not skip).
    static let enabled = available || ProcessInfo.processInfo.environment["CI"] == "true"

    let directory: URL
    let certificate: String
    let port: Int
    private let child: ChildProcess

    init(_ options: Options = Options()) async throws {
        guard Self.available else {
            throw LiveTestError("python3 cannot import aiosmtpd: install it with `python3 -m pip install aiosmtpd` (.ci/run does)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try await Self.makeCertificate(certificate: certificate, key: key)
        var arguments = [Self.script, "--dir", directory.path]
        switch options.tls {
        case .none: break
        case .startTLS: arguments += ["--cert", certificate, "--key", key]
        case .implicit: arguments += ["--cert", certificate, "--key", key, "--implicit-tls"]
        }
        if let user = options.user, let password = options.password { arguments += ["--user", user, "--password", password] }
        if options.loginOnly { arguments.append("--login-only") }
        if options.failOnce451 { arguments.append("--fail-once-451") }
        child = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3"] + arguments, holdingStdin: true)
        do {
            port = try await child.listeningPort()
        } catch {
            child.stop()
            throw LiveTestError("\(error); the server said:\n\(child.text)")
        }
    }

    /// A self-signed certificate for 127.0.0.1 (the client trusts it through `ca:`).
    static func makeCertificate(certificate: String, key: String) async throws {
        let openssl = try ChildProcess(executable: "/usr/bin/env", arguments: [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ], holdingStdin: true)
        defer { openssl.stop() }
        _ = try await waitFor("openssl to make a certificate", timeout: .seconds(30)) { openssl.process.isRunning ? nil : true }
        guard openssl.process.terminationStatus == 0, FileManager.default.fileExists(atPath: certificate) else {
            throw LiveTestError("openssl failed: \(openssl.text)")
        }
    }

    /// Every message received so far, in order.
    func messages() throws -> [Received] {
        var result: [Received] = []
        for index in 1... {
            let base = directory.appendingPathComponent("message-\(index)")
            guard let meta = try? Data(contentsOf: base.appendingPathExtension("json")) else { break }
            let raw = try String(contentsOf: base.appendingPathExtension("eml"), encoding: .utf8)
            let parts = raw.components(separatedBy: "\r\n\r\n")
            var headers: [String: String] = [:]
            for line in parts[0].replacingOccurrences(of: "\r\n ", with: " ").components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            result.append(Received(meta: (try JSONSerialization.jsonObject(with: meta)) as? [String: Any] ?? [:], raw: raw,
                                   headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n")))
        }
        return result
    }

    /// The AUTH mechanisms the client tried, in order.
    var authAttempts: [String] {
        let log = (try? String(contentsOf: directory.appendingPathComponent("auth.log"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init)
    }

    func stop() {
        child.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
