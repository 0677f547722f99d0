import Foundation
import NIOCore
import NIOPosix
import Testing
import TugboatCore
@testable import TugboatAlerts

/// The `email` channel against a real SMTP server (aiosmtpd: STARTTLS, AUTH, a self-signed
/// certificate trusted through `ca:`). In CI a missing aiosmtpd fails these tests.
@Suite("Email channel against a real SMTP server", .serialized, .enabled(if: SMTPTestServer.enabled, "python3 cannot import aiosmtpd (pip install aiosmtpd)"),
       .timeLimit(.minutes(2)))
struct EmailLiveTests {
    let password = "correct horse battery"

    func config(_ server: SMTPTestServer, scheme: String = "smtp", password: String? = nil, to: [String] = ["oncall@example.com", "lead@example.com"],
                trust: Bool = true) -> ChannelConfig {
        var email = EmailConfig(host: "127.0.0.1", port: server.port, security: scheme == "smtps" ? .implicitTLS : .startTLS,
                                from: "tugboat@example.com", to: to)
        email.username = "tugboat"
        email.password = Secret(password ?? self.password)
        email.caFile = trust ? server.certificate : nil
        return .email(email)
    }

    func withServer(_ options: SMTPTestServer.Options = .init(), _ body: (SMTPTestServer) async throws -> Void) async throws {
        let server = try await SMTPTestServer(options)
        defer { server.stop() }
        try await body(server)
    }

    @Test("STARTTLS, AUTH PLAIN, two recipients: the message arrives with its headers and body")
    func delivers() async throws {
        try await withServer { server in
            try await LiveFixtures.withClient { client in
                let sender = LiveFixtures.sender(config(server), client: client)
                let text = "[tugboat] FIRING #42 front-down: HTTP 503 Größe\n.a line that starts with a dot"
                let id = try await sender.send(LiveFixtures.notification(text: text), incident: LiveFixtures.incident)
                let message = try #require(try server.messages().first)
                #expect(message.meta["tls"] as? Bool == true)
                #expect(message.meta["login"] as? String == "tugboat")
                #expect(message.meta["mail_from"] as? String == "tugboat@example.com")
                #expect(message.meta["rcpt_tos"] as? [String] == ["oncall@example.com", "lead@example.com"])
                #expect(message.headers["from"] == "tugboat@example.com")
                #expect(message.headers["to"] == "oncall@example.com, lead@example.com")
                #expect(message.headers["subject"]?.hasPrefix("=?utf-8?B?") == true)  // UTF-8 subject, RFC 2047
                #expect(message.headers["message-id"] == id)
                #expect(message.headers["mime-version"] == "1.0")
                #expect(message.headers["content-type"] == "text/plain; charset=utf-8")
                #expect(message.headers["date"]?.hasSuffix("+0000") == true)
                // aiosmtpd offers 8BITMIME, so UTF-8 goes as is; the dot-stuffing was undone by the server.
                #expect(message.headers["content-transfer-encoding"] == "8bit")
                #expect((message.meta["mail_options"] as? [String])?.contains("BODY=8BITMIME") == true)
                #expect(message.body.hasPrefix("[tugboat] FIRING #42 front-down: HTTP 503 Größe\r\n.a line that starts with a dot\r\n"))
                #expect(message.body.contains("Page key: tugboat-group-5"))
            }
        }
    }

    @Test("AUTH LOGIN when the server offers only LOGIN; smtps:// (TLS from the first byte)")
    func loginAndImplicitTLS() async throws {
        try await withServer(.init(loginOnly: true)) { server in
            try await LiveFixtures.withClient { client in
                _ = try await LiveFixtures.sender(config(server), client: client).send(LiveFixtures.notification(), incident: LiveFixtures.incident)
                #expect(server.authAttempts == ["LOGIN"])
                let received = try server.messages()
                #expect(received.count == 1)
            }
        }
        try await withServer(.init(tls: .implicit)) { server in
            try await LiveFixtures.withClient { client in
                _ = try await LiveFixtures.sender(config(server, scheme: "smtps"), client: client).send(LiveFixtures.notification(), incident: LiveFixtures.incident)
                #expect(try server.messages().first?.meta["tls"] as? Bool == true)
            }
        }
    }

    @Test("a wrong password is a permanent error with the server's 535, and the password is nowhere in it")
    func badCredentials() async throws {
        try await withServer { server in
            try await LiveFixtures.withClient { client in
                let wrong = "wrong-pass-\(UUID().uuidString)"
                let error = await LiveFixtures.deliveryError(LiveFixtures.sender(config(server, password: wrong), client: client), LiveFixtures.notification())
                guard case .permanent(let message) = error else { Issue.record("not permanent: \(String(describing: error))"); return }
                #expect(message.contains("535"), "\(message)")
                #expect(!message.contains(wrong) && !message.contains(Data(wrong.utf8).base64EncodedString()))
                let received = try server.messages()
                #expect(received.isEmpty)
            }
        }
    }

    @Test("a 451 is retryable, and the next attempt delivers exactly one message")
    func transientThenDelivered() async throws {
        try await withServer(.init(failOnce451: true)) { server in
            try await LiveFixtures.withClient { client in
                let sender = LiveFixtures.sender(config(server), client: client)
                let first = await LiveFixtures.deliveryError(sender, LiveFixtures.notification())
                guard case .retryable(let message, _) = first else { Issue.record("not retryable: \(String(describing: first))"); return }
                #expect(message.contains("451 4.3.0"), "\(message)")
                #expect(await LiveFixtures.deliveryError(sender, LiveFixtures.notification()) == nil)
                let received = try server.messages()
                #expect(received.count == 1)
            }
        }
    }

    @Test("an unknown recipient (550) is permanent and names the address; nothing is sent to the others")
    func unknownRecipient() async throws {
        try await withServer { server in
            try await LiveFixtures.withClient { client in
                let sender = LiveFixtures.sender(config(server, to: ["oncall@example.com", "unknown@example.com"]), client: client)
                let error = await LiveFixtures.deliveryError(sender, LiveFixtures.notification())
                guard case .permanent(let message) = error else { Issue.record("not permanent: \(String(describing: error))"); return }
                #expect(message.contains("550 5.1.1") && message.contains("RCPT TO:<unknown@example.com>"), "\(message)")
                let received = try server.messages()
                #expect(received.isEmpty)
            }
        }
    }

    @Test("STARTTLS required but not offered: permanent, and no AUTH or mail went over plaintext")
    func refusesPlaintext() async throws {
        try await withServer(.init(tls: .none)) { server in
            try await LiveFixtures.withClient { client in
                let error = await LiveFixtures.deliveryError(LiveFixtures.sender(config(server, trust: false), client: client), LiveFixtures.notification())
                guard case .permanent(let message) = error else { Issue.record("not permanent: \(String(describing: error))"); return }
                #expect(message.contains("does not offer STARTTLS"), "\(message)")
                #expect(server.authAttempts.isEmpty)
                let received = try server.messages()
                #expect(received.isEmpty)
            }
        }
    }

    @Test("a certificate the client does not trust stops the delivery before AUTH (retryable, like any connection failure)")
    func untrustedCertificate() async throws {
        try await withServer { server in
            try await LiveFixtures.withClient { client in
                let error = await LiveFixtures.deliveryError(LiveFixtures.sender(config(server, trust: false), client: client), LiveFixtures.notification())
                guard case .retryable(let message, _) = error else { Issue.record("not retryable: \(String(describing: error))"); return }
                #expect(message.contains("TLS handshake"), "\(message)")
                #expect(server.authAttempts.isEmpty)
                let received = try server.messages()
                #expect(received.isEmpty)
            }
        }
    }

    @Test("a server that never answers, and one that is not there: retryable, within alerts.timeout")
    func silentAndMissingServers() async throws {
        // A listener that accepts and says nothing.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        try await LiveFixtures.withClient { client in
            var email = EmailConfig(host: "127.0.0.1", port: port, security: .startTLS, from: "a@example.com", to: ["b@example.com"])
            let started = ContinuousClock.now
            let error = await LiveFixtures.deliveryError(LiveFixtures.sender(.email(email), client: client, timeout: .milliseconds(500)),
                                                         LiveFixtures.notification())
            #expect(ContinuousClock.now - started < .seconds(3))
            guard case .retryable(let message, _) = error else { Issue.record("not retryable: \(String(describing: error))"); return }
            #expect(message.contains("no answer in time (during greeting)"), "\(message)")
            try await silent.close()
            email.port = port  // now closed: refused
            let refused = await LiveFixtures.deliveryError(LiveFixtures.sender(.email(email), client: client, timeout: .seconds(2)),
                                                           LiveFixtures.notification())
            guard case .retryable(let refusal, _) = refused else { Issue.record("not retryable: \(String(describing: refused))"); return }
            #expect(refusal.contains("connect"), "\(refusal)")
        }
    }
}
