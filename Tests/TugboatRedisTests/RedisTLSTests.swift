import Foundation
import Logging
import NIOPosix
import TestSupport
import Testing
import TugboatCore
@testable import TugboatRedis

/// `rediss://` against a real redis-server that speaks TLS only (`--port 0 --tls-port N`), with a
/// CA and certificates the test makes itself.
@Suite("Redis over TLS (rediss://)", .serialized, .timeLimit(.minutes(1)))
struct RedisTLSTests {
    /// The CA, the server's certificate (for `names`) and a client certificate.
    struct Files {
        let certificates: TestCertificates
        let server: (cert: String, key: String)
        let client: (cert: String, key: String)
        var serverFiles: RedisTestServer.TLSFiles { .init(cert: server.cert, key: server.key, ca: certificates.caPath) }

        init(names: [String] = ["localhost", "127.0.0.1"]) throws {
            certificates = try TestCertificates()
            server = try certificates.leaf("redis", commonName: names[0], names: names)
            client = try certificates.leaf("client", commonName: "tugboat-node", names: ["tugboat-node.test"])
        }
    }

    func configuration(_ url: String, _ tls: StateTLSSettings?) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: url, tls: tls)
        configuration.connectTimeout = .seconds(2)
        configuration.commandTimeout = .seconds(2)
        return configuration
    }

    /// One connection attempt; the error it failed with, or nil.
    func connectError(_ configuration: RedisConfiguration) async -> RedisError? {
        do {
            let connection = try await RedisConnection.connect(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                                               pubSub: false, logger: testLogger, onPush: { _ in })
            try? await connection.channel.close()
            return nil
        } catch {
            return error
        }
    }

    @Test("with the configured CA and a client certificate: AUTH, SELECT and commands go over TLS to a TLS-only server")
    func verifiedWithConfiguredCA() async throws {
        let files = try Files()
        try await withRedisServer(arguments: ["--requirepass", "tls-pass"], tls: files.serverFiles) { server in
            let tls = StateTLSSettings(ca: files.certificates.caPath, cert: files.client.cert, key: files.client.key)
            let verified = try configuration("rediss://:tls-pass@127.0.0.1:\(server.port)/3", tls)
            #expect(verified.description == "rediss://:***@127.0.0.1:\(server.port)/3")
            try await withClient(verified) { client in
                _ = try await client.send(["SET", "greeting", "over tls"])
                #expect(try await client.send(["GET", "greeting"]).string == "over tls")
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains(" db=3 ") == true)
            }
            // The same server through a plain connection: nothing answers in clear text.
            #expect(await connectError(try configuration("redis://:tls-pass@127.0.0.1:\(server.port)/3", nil)) != nil)
        }
    }

    @Test("without a CA the system's trust store decides: the test's own CA is not in it, so the connection is refused, saying why")
    func systemTrustRefusesUnknownCA() async throws {
        let files = try Files()
        try await withRedisServer(arguments: ["--tls-auth-clients", "no"], tls: files.serverFiles) { server in
            let error = await connectError(try configuration("rediss://127.0.0.1:\(server.port)", nil))
            guard case .connectFailed(let reason)? = error else { Issue.record("connected, or failed otherwise: \(String(describing: error))"); return }
            #expect(reason.hasPrefix("TLS handshake failed"), "\(reason)")
            #expect(reason.contains("CERTIFICATE_VERIFY_FAILED"), "\(reason)")
            // With the CA it connects: the refusal above was the trust, nothing else.
            #expect(await connectError(try configuration("rediss://127.0.0.1:\(server.port)", StateTLSSettings(ca: files.certificates.caPath))) == nil)
        }
    }

    @Test("a certificate from the configured CA for another name is refused: the name is checked too")
    func wrongNameRefused() async throws {
        let files = try Files(names: ["redis.other.test"])
        try await withRedisServer(arguments: ["--tls-auth-clients", "no"], tls: files.serverFiles) { server in
            let tls = StateTLSSettings(ca: files.certificates.caPath)
            for host in ["127.0.0.1", "localhost"] {
                let error = await connectError(try configuration("rediss://\(host):\(server.port)", tls))
                guard case .connectFailed(let reason)? = error else { Issue.record("\(host): \(String(describing: error))"); continue }
                #expect(reason.hasPrefix("TLS handshake failed"), "\(host): \(reason)")
            }
        }
    }
}
