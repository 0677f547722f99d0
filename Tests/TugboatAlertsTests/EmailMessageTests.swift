import Foundation
import Testing
@testable import TugboatAlerts

@Suite("Email message rendering")
struct EmailMessageTests {
    func content(subject: String = "[tugboat] FIRING #3 front-down: HTTP 503", body: String = "line one\nline two\n") -> EmailContent {
        EmailContent(from: "tugboat@example.com", to: ["a@example.com", "b@example.com"], subject: subject, body: body,
                     date: Date(timeIntervalSince1970: 1_700_000_000), messageID: "tugboat.3.abc@example.com")
    }

    @Test("headers of RFC 5322 and MIME, CRLF line ends, an ASCII body as 7bit")
    func headers() {
        let (text, encoding) = EmailMessage.render(content(), eightBitAllowed: false)
        #expect(encoding == .sevenBit)
        #expect(text == [
            "From: tugboat@example.com", "To: a@example.com, b@example.com", "Subject: [tugboat] FIRING #3 front-down: HTTP 503",
            "Date: Tue, 14 Nov 2023 22:13:20 +0000", "Message-ID: <tugboat.3.abc@example.com>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 7bit", "Auto-Submitted: auto-generated",
            "", "line one", "line two", "",
        ].joined(separator: "\r\n"))
    }

    @Test("UTF-8: 8bit when the server has 8BITMIME, quoted-printable when not; the subject as RFC 2047 words")
    func utf8() {
        let mail = content(subject: "[tugboat] FIRING café — ünïcode", body: "Größe = 5 ✓\n")
        #expect(EmailMessage.render(mail, eightBitAllowed: true).encoding == .eightBit)
        let (text, encoding) = EmailMessage.render(mail, eightBitAllowed: false)
        #expect(encoding == .quotedPrintable)
        #expect(text.contains("\r\nGr=C3=B6=C3=9Fe =3D 5 =E2=9C=93\r\n"))
        #expect(text.contains("Subject: =?utf-8?B?"))
        #expect(text.utf8.allSatisfy { $0 < 0x80 })
        // Decoding the encoded words gives the subject back.
        let subjectLines = text.components(separatedBy: "\r\n").drop { !$0.hasPrefix("Subject:") }.prefix { $0.hasPrefix("Subject:") || $0.hasPrefix(" ") }
        let decoded = subjectLines.map { line in
            let word = line.replacingOccurrences(of: "Subject: ", with: "").trimmingCharacters(in: .whitespaces)
            return String(decoding: Data(base64Encoded: String(word.dropFirst(10).dropLast(2)))!, as: UTF8.self)
        }.joined()
        #expect(decoded == "[tugboat] FIRING café — ünïcode")
        #expect(subjectLines.allSatisfy { $0.count <= 78 })
    }

    @Test("quoted-printable: soft breaks keep lines at most 76 characters; trailing space encoded")
    func quotedPrintable() {
        let long = String(repeating: "é", count: 60) + " "
        let encoded = EmailMessage.quotedPrintable(long)
        #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        #expect(encoded.hasSuffix("=20"))
        let joined = encoded.replacingOccurrences(of: "=\r\n", with: "")
        #expect(joined == String(repeating: "=C3=A9", count: 60) + "=20")
    }

    @Test("a body line over 998 bytes is sent quoted-printable, even in ASCII")
    func longLine() {
        let (text, encoding) = EmailMessage.render(content(body: String(repeating: "x", count: 1200)), eightBitAllowed: true)
        #expect(encoding == .quotedPrintable)
        #expect(text.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 998 })
    }

    @Test("dot-stuffing: a line starting with '.' gets another; the message ends with CRLF . CRLF")
    func dotStuffing() {
        #expect(EmailMessage.dotStuffed("a\r\n.\r\n..b\r\nc\r\n") == "a\r\n..\r\n...b\r\nc\r\n.\r\n")
        let (text, _) = EmailMessage.render(content(body: ".\nend\n"), eightBitAllowed: false)
        #expect(EmailMessage.dotStuffed(text).hasSuffix("\r\n..\r\nend\r\n.\r\n"))
    }

    @Test("the subject is the first line, without control characters, at most 100 characters")
    func subject() {
        #expect(EmailMessage.subject(for: "[tugboat] FIRING #1 r: x\nmore") == "[tugboat] FIRING #1 r: x")
        #expect(EmailMessage.subject(for: "a\u{7}b\tc") == "a b c")
        let long = EmailMessage.subject(for: String(repeating: "y", count: 300))
        #expect(long.count == 100 && long.hasSuffix("…"))
        #expect(EmailMessage.subject(for: "\n\n") == "[tugboat] notification")
    }

    @Test("many recipients fold the To header")
    func folding() {
        var mail = content()
        mail.to = (1...8).map { "person\($0)@example.com" }
        let (text, _) = EmailMessage.render(mail, eightBitAllowed: false)
        let header = text.components(separatedBy: "\r\n\r\n")[0]
        #expect(header.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 })
        #expect(header.contains("To: person1@example.com,\r\n person2@example.com,"))
    }
}
