import Testing
@testable import TugboatAlerts

@Suite("SMTP reply parser")
struct SMTPReplyParserTests {
    @Test("single and multi-line replies, split anywhere across reads, CRLF or bare LF")
    func replies() throws {
        var parser = SMTPReplyParser()
        #expect(try parser.feed(Array("220 mail.example.com ESMTP ready\r\n".utf8)) == [SMTPReply(code: 220, lines: ["mail.example.com ESMTP ready"])])
        let ehlo = "250-mail.example.com\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"
        var replies: [SMTPReply] = []
        for byte in ehlo.utf8 { replies += try parser.feed([byte]) }  // one byte per read
        #expect(replies == [SMTPReply(code: 250, lines: ["mail.example.com", "PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS"])])
        #expect(!parser.hasBufferedInput)
        #expect(try parser.feed(Array("354\n250 ok\n".utf8)).map(\.code) == [354, 250])
        #expect(try parser.feed(Array("451 4.3.0 try ".utf8)) == [])
        #expect(parser.hasBufferedInput)
        #expect(try parser.feed(Array("later\r\n".utf8)).first?.summary == "451 4.3.0 try later")
    }

    @Test("classification: 2xx/3xx positive, 4xx transient, 5xx permanent")
    func classes() {
        #expect(SMTPReply(code: 250, lines: []).isPositive && SMTPReply(code: 334, lines: []).isPositive)
        #expect(SMTPReply(code: 421, lines: []).isTransient && !SMTPReply(code: 421, lines: []).isPositive)
        #expect(!SMTPReply(code: 550, lines: []).isTransient && !SMTPReply(code: 550, lines: []).isPositive)
    }

    @Test("bounded: an endless line or an endless reply is an error, not a growing buffer")
    func bounds() {
        var parser = SMTPReplyParser(maxLineLength: 64, maxLines: 3)
        #expect(throws: SMTPReplyParser.ParseError.lineTooLong(64)) { try parser.feed(Array(repeating: UInt8(ascii: "2"), count: 100)) }
        var lines = SMTPReplyParser(maxLineLength: 64, maxLines: 3)
        #expect(throws: SMTPReplyParser.ParseError.tooManyLines(3)) { try lines.feed(Array(String(repeating: "250-x\r\n", count: 4).utf8)) }
    }

    @Test("malformed lines: no code, a code out of range, a changed code inside one reply", arguments: [
        "hello\r\n", "25\r\n", "999 what\r\n", "250x\r\n", "250-a\r\n251 b\r\n",
    ])
    func malformed(_ input: String) {
        var parser = SMTPReplyParser()
        #expect(throws: SMTPReplyParser.ParseError.self) { try parser.feed(Array(input.utf8)) }
    }

    @Test("EHLO keywords: STARTTLS, AUTH mechanisms (also the old AUTH= form), 8BITMIME")
    func extensions() {
        let reply = SMTPReply(code: 250, lines: ["mx greets [127.0.0.1]", "SIZE 10240000", "8BITMIME", "AUTH=LOGIN", "auth plain cram-md5", "STARTTLS"])
        let found = SMTPExtensions(ehlo: reply)
        #expect(found.startTLS && found.eightBitMIME)
        #expect(found.authMechanisms == ["LOGIN", "PLAIN", "CRAM-MD5"])
        // The greeting line is not a keyword, whatever it says.
        #expect(!SMTPExtensions(ehlo: SMTPReply(code: 250, lines: ["STARTTLS"])).startTLS)
    }
}
