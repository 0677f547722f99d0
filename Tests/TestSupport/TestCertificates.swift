import Foundation

/// A throwaway CA and leaf certificates made with the `openssl` command, in a temporary directory
/// (the project ships no certificates).
package final class TestCertificates: Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package let directory: String
    package var caPath: String { directory + "/ca.pem" }

    package init() throws {
        directory = NSTemporaryDirectory() + "tugboat-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                          "-subj", "/O=Tugboat Test/CN=Tugboat Test CA", "-keyout", directory + "/ca.key", "-out", caPath])
    }

    /// A leaf for `names` (DNS names; IP addresses too) signed by the CA: returns (cert, key) paths.
    @discardableResult
    /// With `ocspURL`, the certificate names that OCSP responder (Authority Information Access).
    package func leaf(_ file: String, commonName: String, names: [String], days: Int = 2, ocspURL: String? = nil,
                      extensions: [String] = []) throws -> (cert: String, key: String) {
        let cert = "\(directory)/\(file).pem", key = "\(directory)/\(file).key", csr = "\(directory)/\(file).csr"
        let san = names.map { $0.first?.isNumber == true ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        let lines = ["subjectAltName=\(san)"] + (ocspURL.map { ["authorityInfoAccess=OCSP;URI:\($0)"] } ?? []) + extensions
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(directory)/\(file).ext", atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(commonName)",
                          "-keyout", key, "-out", csr])
        try Self.openssl(["x509", "-req", "-in", csr, "-CA", caPath, "-CAkey", directory + "/ca.key", "-CAcreateserial",
                          "-days", String(days), "-extfile", "\(directory)/\(file).ext", "-out", cert])
        chmod(key, 0o600)
        return (cert, key)
    }

    /// The certificate file followed by the CA's: a chain as a CA hands it out (OCSP needs the issuer).
    package func chain(_ leaf: String) throws -> String {
        let path = leaf.replacingOccurrences(of: ".pem", with: ".chain.pem")
        try (String(contentsOfFile: leaf, encoding: .utf8) + String(contentsOfFile: caPath, encoding: .utf8))
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A certificate's serial number as `openssl x509 -serial` prints it (hex).
    package static func serial(of cert: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["x509", "-in", cert, "-noout", "-serial"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let serial = text.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines), !serial.isEmpty else {
            throw Failure(description: "no serial in \(cert)")
        }
        return serial
    }

    package static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed") }
    }

    /// `openssl s_client`: a real TLS client independent of Tugboat's. Sends `request` and returns
    /// everything it printed (the handshake summary and the HTTP response).
    package static func client(port: Int, serverName: String?, ca: String, request: String, extra: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", ca, "-verify_return_error", "-ign_eof"]
            + (serverName.map { ["-servername", $0] } ?? ["-noservername"]) + extra
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(request.utf8))
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(10)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        return String(decoding: data, as: UTF8.self)
    }
}
