import Foundation

/// A real OCSP responder for the test CA (`openssl ocsp` signs every answer) on 127.0.0.1
/// (Tests/Fixtures/ocsp_responder.py), answering from an index of the CA's certificates that the
/// test edits, and failing on demand.
package final class OCSPResponder: @unchecked Sendable {
    package let port: Int
    package var url: String { "http://127.0.0.1:\(port)" }
    private let certificates: TestCertificates
    private let child: ChildProcess

    package enum Mode: String {
        case normal = "", error, garbage, huge, drip
    }

    package init(certificates: TestCertificates) throws {
        self.certificates = certificates
        try "".write(toFile: certificates.directory + "/index.txt", atomically: true, encoding: .utf8)
        child = try ChildProcess(executable: "/usr/bin/python3",
                                 arguments: [repositoryRoot.appendingPathComponent("Tests/Fixtures/ocsp_responder.py").path, certificates.directory])
        let line = try child.waitForLine(timeout: 20) { $0.contains("listening on 127.0.0.1:") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw TestCertificates.Failure(description: "no port in '\(line)'")
        }
        self.port = port
    }

    /// Records `cert` (a PEM file of the CA's) in the index: valid, or revoked a minute ago.
    package func record(_ cert: String, revoked: Bool = false) throws {
        let serial = try TestCertificates.serial(of: cert)
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyMMddHHmmss'Z'"
        let expiry = formatter.string(from: Date().addingTimeInterval(2 * 86_400))
        let revocation = revoked ? formatter.string(from: Date().addingTimeInterval(-60)) : ""
        let path = certificates.directory + "/index.txt"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.contains("\t\(serial)\t") }.map(String.init)
        lines.append([revoked ? "R" : "V", expiry, revocation, serial, "unknown", "/CN=test"].joined(separator: "\t"))
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The OCSP requests it received so far.
    package var requests: Int { child.lines.filter { $0 == "request" }.count }

    package func fail(_ mode: Mode) throws {
        try mode.rawValue.write(toFile: certificates.directory + "/mode", atomically: true, encoding: .utf8)
    }
}
