import Foundation
import TugboatCore

/// One mail delivery as a pure state machine (RFC 5321): it is told each reply, and answers with the
/// commands to send. Greeting → EHLO → STARTTLS → EHLO → AUTH → MAIL FROM → RCPT TO (each) → DATA →
/// message → QUIT. The transport does the I/O and carries out what it returns.
struct SMTPConversation {
    enum Action: Equatable {
        /// One command line (the transport appends CRLF). AUTH lines hold credentials: never log them.
        case send(String)
        /// The message, already dot-stuffed and ending in `.` CRLF.
        case sendData(String)
        /// Put TLS under the connection now; call ``tlsEstablished()`` once its handshake is done.
        case startTLS
        /// The server took the message: the delivery succeeded (QUIT follows).
        case delivered
        /// The delivery failed (a QUIT, if any, was sent before): close the connection.
        case fail(DeliveryError)
        /// Nothing more to say: close the connection.
        case close
    }

    enum Stage: String, Sendable {
        case greeting, ehlo = "EHLO", helo = "HELO", startTLS = "STARTTLS", tlsHandshake = "TLS handshake"
        case authPlain = "AUTH PLAIN", authLoginUser = "AUTH LOGIN", authLoginPassword = "AUTH LOGIN password"
        case authResult = "AUTH", mailFrom = "MAIL FROM", rcptTo = "RCPT TO", data = "DATA", message = "message data"
        case quit = "QUIT", done
    }

    struct Settings: Sendable {
        /// The EHLO argument: this host's address literal (`[127.0.0.1]`) or name.
        var clientName: String
        var security: EmailConfig.Security
        var username: String?
        var password: Secret?
        var content: EmailContent
    }

    let settings: Settings
    private(set) var stage: Stage = .greeting
    private(set) var tlsActive: Bool
    private(set) var extensions = SMTPExtensions()
    private var recipientIndex = 0

    init(settings: Settings) {
        self.settings = settings
        self.tlsActive = settings.security == .implicitTLS
    }

    /// The command a failure happened in, for messages (never with credentials).
    var step: String {
        switch stage {
        case .rcptTo: "RCPT TO:<\(settings.content.to[min(recipientIndex, settings.content.to.count - 1)])>"
        default: stage.rawValue
        }
    }

    mutating func received(_ reply: SMTPReply) -> [Action] {
        switch stage {
        case .greeting:
            guard reply.code == 220 else { return refuse(reply) }
            return ehlo()
        case .ehlo:
            guard reply.code == 250 else {
                // RFC 5321 §3.2: a server that does not know EHLO may still know HELO; only for a
                // session that needs neither TLS nor AUTH.
                if [500, 502].contains(reply.code), settings.security == .plain, settings.username == nil {
                    stage = .helo
                    return [.send("HELO \(settings.clientName)")]
                }
                return refuse(reply)
            }
            extensions = SMTPExtensions(ehlo: reply)
            return afterGreeting()
        case .helo:
            guard reply.code == 250 else { return refuse(reply) }
            return mailFrom()
        case .startTLS:
            guard reply.code == 220 else { return refuse(reply) }
            stage = .tlsHandshake
            return [.startTLS]
        case .tlsHandshake:
            return fail(.retryable("unexpected reply \(reply.summary) during the TLS handshake"))
        case .authPlain, .authResult:
            if reply.code == 334, stage == .authPlain {  // the server wants the initial response on its own line
                stage = .authResult
                return [.send(plainResponse)]
            }
            guard reply.code == 235 else { return refuse(reply, prefix: "authentication failed: ") }
            return mailFrom()
        case .authLoginUser:
            guard reply.code == 334 else { return refuse(reply, prefix: "authentication failed: ") }
            stage = .authLoginPassword
            return [.send(base64(settings.username ?? ""))]
        case .authLoginPassword:
            guard reply.code == 334 else { return refuse(reply, prefix: "authentication failed: ") }
            stage = .authResult
            return [.send(base64(settings.password?.value ?? ""))]
        case .mailFrom:
            guard reply.code == 250 else { return refuse(reply) }
            stage = .rcptTo
            recipientIndex = 0
            return [.send("RCPT TO:<\(settings.content.to[0])>")]
        case .rcptTo:
            // Every recipient or none: a refused address fails the delivery before any mail is sent,
            // so a retry never mails the others twice.
            guard reply.code == 250 || reply.code == 251 else { return refuse(reply) }
            recipientIndex += 1
            if recipientIndex < settings.content.to.count {
                return [.send("RCPT TO:<\(settings.content.to[recipientIndex])>")]
            }
            stage = .data
            return [.send("DATA")]
        case .data:
            guard reply.code == 354 else { return refuse(reply) }
            stage = .message
            let rendered = EmailMessage.render(settings.content, eightBitAllowed: extensions.eightBitMIME)
            return [.sendData(EmailMessage.dotStuffed(rendered.text))]
        case .message:
            guard reply.code == 250 else { return refuse(reply) }
            stage = .quit
            return [.delivered, .send("QUIT")]
        case .quit, .done:
            stage = .done
            return [.close]
        }
    }

    /// The TLS handshake after STARTTLS is done: greet again (RFC 3207 §4.2: forget what was said before).
    mutating func tlsEstablished() -> [Action] {
        guard stage == .tlsHandshake else { return [] }
        tlsActive = true
        extensions = SMTPExtensions()
        return ehlo()
    }

    /// Removes the credentials (plain and base64) from text that goes into errors and logs.
    func redact(_ text: String) -> String {
        guard let password = settings.password?.value, !password.isEmpty else { return text }
        var result = text
        for secret in [plainResponse, base64(password), password] where !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return result
    }

    // MARK: - Steps

    private mutating func ehlo() -> [Action] {
        stage = .ehlo
        return [.send("EHLO \(settings.clientName)")]
    }

    private mutating func afterGreeting() -> [Action] {
        if settings.security == .startTLS && !tlsActive {
            guard extensions.startTLS else {
                return [.send("QUIT")] + fail(.permanent(
                    "the server does not offer STARTTLS: refusing to send credentials or mail in plaintext (starttls: false allows it)"))
            }
            stage = .startTLS
            return [.send("STARTTLS")]
        }
        guard settings.username != nil else { return mailFrom() }
        let offered = extensions.authMechanisms
        if offered.contains("PLAIN") {
            stage = .authPlain
            return [.send(plainCredentials)]
        }
        if offered.contains("LOGIN") {
            stage = .authLoginUser
            return [.send("AUTH LOGIN")]
        }
        let what = offered.isEmpty ? "the server offers no AUTH" : "the server offers AUTH \(offered.sorted().joined(separator: " "))"
        return [.send("QUIT")] + fail(.permanent("\(what); Tugboat authenticates with PLAIN or LOGIN"))
    }

    private mutating func mailFrom() -> [Action] {
        stage = .mailFrom
        let rendered = EmailMessage.render(settings.content, eightBitAllowed: extensions.eightBitMIME)
        let body = rendered.encoding == .eightBit ? " BODY=8BITMIME" : ""
        return [.send("MAIL FROM:<\(settings.content.from)>\(body)")]
    }

    /// A refusal: 4xx is worth another try later, 5xx is not. The server's text goes into the error.
    private mutating func refuse(_ reply: SMTPReply, prefix: String = "") -> [Action] {
        let step = self.step
        let message = redact("\(prefix)\(reply.summary) (at \(step))")
        let error: DeliveryError = reply.isTransient || reply.isPositive ? .retryable(message) : .permanent(message)
        // 421 means the server is closing the connection; anything else gets a polite QUIT.
        return (reply.code == 421 ? [] : [.send("QUIT")]) + fail(error)
    }

    private mutating func fail(_ error: DeliveryError) -> [Action] {
        stage = .done
        return [.fail(error)]
    }

    private var plainCredentials: String { "AUTH PLAIN " + plainResponse }

    /// RFC 4616: base64 of NUL, user, NUL, password.
    private var plainResponse: String { base64("\u{0}\(settings.username ?? "")\u{0}\(settings.password?.value ?? "")") }

    private func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
}
