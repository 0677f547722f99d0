import Foundation
import Testing
import TugboatCore
@testable import TugboatAlerts

@Suite("SMTP conversation")
struct SMTPConversationTests {
    typealias Action = SMTPConversation.Action

    func conversation(_ security: EmailConfig.Security = .startTLS, user: String? = "tug", password: String? = "s3cret!",
                      to: [String] = ["a@example.com", "b@example.com"]) -> SMTPConversation {
        let content = EmailContent(from: "tugboat@example.com", to: to, subject: "s", body: "hello\n.dot\n",
                                   date: Date(timeIntervalSince1970: 0), messageID: "m@example.com")
        return SMTPConversation(settings: .init(clientName: "[127.0.0.1]", security: security, username: user,
                                                password: password.map(Secret.init), content: content))
    }

    func reply(_ code: Int, _ lines: String...) -> SMTPReply { SMTPReply(code: code, lines: lines.isEmpty ? ["ok"] : lines) }

    let plain = Data("\u{0}tug\u{0}s3cret!".utf8).base64EncodedString()

    @Test("the whole conversation: EHLO, STARTTLS, EHLO again, AUTH PLAIN, envelope, DATA, QUIT")
    func happyPath() {
        var smtp = conversation()
        #expect(smtp.received(reply(220, "mx ESMTP")) == [.send("EHLO [127.0.0.1]")])
        #expect(smtp.received(reply(250, "mx", "STARTTLS", "8BITMIME")) == [.send("STARTTLS")])
        #expect(smtp.received(reply(220, "go ahead")) == [.startTLS])
        #expect(smtp.tlsEstablished() == [.send("EHLO [127.0.0.1]")])
        #expect(smtp.received(reply(250, "mx", "AUTH LOGIN PLAIN")) == [.send("AUTH PLAIN \(plain)")])
        #expect(smtp.received(reply(235, "2.7.0 Authentication successful")) == [.send("MAIL FROM:<tugboat@example.com>")])
        #expect(smtp.received(reply(250)) == [.send("RCPT TO:<a@example.com>")])
        #expect(smtp.received(reply(250)) == [.send("RCPT TO:<b@example.com>")])
        #expect(smtp.received(reply(250)) == [.send("DATA")])
        guard case .sendData(let data) = smtp.received(reply(354, "End data with <CR><LF>.<CR><LF>")).first else {
            Issue.record("no message after 354")
            return
        }
        #expect(data.hasSuffix("\r\nhello\r\n..dot\r\n.\r\n"))  // dot-stuffed, terminated
        #expect(data.contains("Message-ID: <m@example.com>\r\n"))
        #expect(smtp.received(reply(250, "2.0.0 Ok: queued")) == [.delivered, .send("QUIT")])
        #expect(smtp.received(reply(221, "bye")) == [.close])
    }

    @Test("AUTH LOGIN when only LOGIN is offered; no AUTH at all without a username; plaintext when starttls is off")
    func authVariants() {
        var login = conversation(.implicitTLS)
        _ = login.received(reply(220))
        #expect(login.received(reply(250, "mx", "AUTH LOGIN")) == [.send("AUTH LOGIN")])
        #expect(login.received(reply(334, "VXNlcm5hbWU6")) == [.send(Data("tug".utf8).base64EncodedString())])
        #expect(login.received(reply(334, "UGFzc3dvcmQ6")) == [.send(Data("s3cret!".utf8).base64EncodedString())])
        #expect(login.received(reply(235)) == [.send("MAIL FROM:<tugboat@example.com>")])

        var anonymous = conversation(.plain, user: nil, password: nil)
        _ = anonymous.received(reply(220))
        #expect(anonymous.received(reply(250, "mx", "AUTH PLAIN")) == [.send("MAIL FROM:<tugboat@example.com>")])
    }

    @Test("a server without EHLO gets HELO, only when neither TLS nor AUTH is needed")
    func heloFallback() {
        var old = conversation(.plain, user: nil, password: nil)
        _ = old.received(reply(220))
        #expect(old.received(reply(502, "command not implemented")) == [.send("HELO [127.0.0.1]")])
        #expect(old.received(reply(250)) == [.send("MAIL FROM:<tugboat@example.com>")])

        var secure = conversation()
        _ = secure.received(reply(220))
        #expect(secure.received(reply(502, "5.5.1 unrecognized")).last == .fail(.permanent("502 5.5.1 unrecognized (at EHLO)")))
    }

    @Test("STARTTLS required but not offered: QUIT, permanent, and nothing secret was sent")
    func noStartTLS() {
        var smtp = conversation()
        _ = smtp.received(reply(220))
        let actions = smtp.received(reply(250, "mx", "AUTH PLAIN LOGIN"))
        #expect(actions.first == .send("QUIT"))
        guard case .fail(.permanent(let message)) = actions.last else { Issue.record("not permanent: \(actions)"); return }
        #expect(message.contains("does not offer STARTTLS"))
        #expect(!actions.contains { if case .send(let line) = $0 { line.hasPrefix("AUTH") } else { false } })
    }

    @Test("after STARTTLS the old EHLO answer is forgotten (RFC 3207): AUTH only if offered again")
    func forgetsPreTLSExtensions() {
        var smtp = conversation()
        _ = smtp.received(reply(220))
        _ = smtp.received(reply(250, "mx", "STARTTLS", "AUTH PLAIN"))
        _ = smtp.received(reply(220))
        _ = smtp.tlsEstablished()
        let actions = smtp.received(reply(250, "mx"))
        #expect(actions.last == .fail(.permanent("the server offers no AUTH; Tugboat authenticates with PLAIN or LOGIN")))
    }

    @Test("4xx is retryable, 5xx permanent, with the server's text and the step; the password never appears")
    func classification() {
        func run(until stage: Int, then failure: SMTPReply) -> [Action] {
            var smtp = conversation(.implicitTLS, to: ["a@example.com"])
            let script = [reply(220), reply(250, "mx", "AUTH PLAIN"), reply(235), reply(250), reply(250), reply(354)]
            for step in script.prefix(stage) { _ = smtp.received(step) }
            return smtp.received(failure)
        }
        #expect(run(until: 2, then: reply(535, "5.7.8 Authentication credentials invalid")) ==
            [.send("QUIT"), .fail(.permanent("authentication failed: 535 5.7.8 Authentication credentials invalid (at AUTH PLAIN)"))])
        #expect(run(until: 4, then: reply(550, "5.1.1 <a@example.com>: Recipient address rejected")) ==
            [.send("QUIT"), .fail(.permanent("550 5.1.1 <a@example.com>: Recipient address rejected (at RCPT TO:<a@example.com>)"))])
        #expect(run(until: 6, then: reply(451, "4.3.0 Try again later")) ==
            [.send("QUIT"), .fail(.retryable("451 4.3.0 Try again later (at message data)"))])
        #expect(run(until: 0, then: reply(421, "4.3.2 shutting down")) == [.fail(.retryable("421 4.3.2 shutting down (at greeting)"))])
        #expect(run(until: 3, then: reply(452, "4.3.1 Insufficient storage")) ==
            [.send("QUIT"), .fail(.retryable("452 4.3.1 Insufficient storage (at MAIL FROM)"))])
        // A server that echoes the credentials back does not get them into the error.
        let echoed = run(until: 2, then: reply(535, "bad \(plain) for s3cret!"))
        #expect(echoed.last == .fail(.permanent("authentication failed: 535 bad <redacted> for <redacted> (at AUTH PLAIN)")))
    }

    @Test("a server that advertises 8BITMIME gets BODY=8BITMIME for a UTF-8 body")
    func eightBit() {
        var content = conversation(.plain, user: nil, password: nil).settings.content
        content.body = "Größe\n"
        var smtp = SMTPConversation(settings: .init(clientName: "[::1]", security: .plain, content: content))
        _ = smtp.received(reply(220))
        #expect(smtp.received(reply(250, "mx", "8BITMIME")) == [.send("MAIL FROM:<tugboat@example.com> BODY=8BITMIME")])
    }
}
