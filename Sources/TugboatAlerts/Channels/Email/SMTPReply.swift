/// One SMTP reply (RFC 5321 §4.2): a three-digit code and its text lines (`250-…` continued, `250 …` last).
struct SMTPReply: Sendable, Equatable {
    var code: Int
    /// The text after the code on each line, in order.
    var lines: [String]

    /// 2xx (and 3xx: go on with the next part of the command).
    var isPositive: Bool { code < 400 }
    /// 4xx: the server asks to try again later.
    var isTransient: Bool { (400..<500).contains(code) }

    /// `451 4.3.0 try later` (continuation lines joined by " / "), cut to a readable length.
    var summary: String {
        let text = lines.joined(separator: " / ")
        return "\(code) " + (text.count > 300 ? String(text.prefix(300)) + "…" : text)
    }
}

/// Splits the server's bytes into replies. Bounded: a line longer than `maxLineLength` or a reply
/// of more than `maxLines` lines is a protocol error, never an unbounded buffer.
struct SMTPReplyParser: Sendable {
    enum ParseError: Error, Equatable, CustomStringConvertible {
        case lineTooLong(Int)
        case tooManyLines(Int)
        case malformed(String)

        var description: String {
            switch self {
            case .lineTooLong(let limit): "a reply line longer than \(limit) bytes"
            case .tooManyLines(let limit): "a reply of more than \(limit) lines"
            case .malformed(let line): "a malformed reply line '\(line)'"
            }
        }
    }

    let maxLineLength: Int
    let maxLines: Int
    private var partial: [UInt8] = []
    private var pending: (code: Int, lines: [String])?

    init(maxLineLength: Int = 4096, maxLines: Int = 100) {
        self.maxLineLength = maxLineLength
        self.maxLines = maxLines
    }

    /// Bytes received but not yet part of a complete reply (a STARTTLS reply must leave none:
    /// anything after it would be plaintext smuggled into the TLS session).
    var hasBufferedInput: Bool { !partial.isEmpty || pending != nil }

    /// Feeds received bytes; returns the replies they complete, in order.
    mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws(ParseError) -> [SMTPReply] {
        var replies: [SMTPReply] = []
        for byte in bytes {
            guard byte == UInt8(ascii: "\n") else {
                partial.append(byte)
                if partial.count > maxLineLength { throw .lineTooLong(maxLineLength) }
                continue
            }
            if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
            let line = String(decoding: partial, as: UTF8.self)
            partial.removeAll(keepingCapacity: true)
            if let reply = try accept(line) { replies.append(reply) }
        }
        return replies
    }

    private mutating func accept(_ line: String) throws(ParseError) -> SMTPReply? {
        let utf8 = Array(line.utf8)
        guard utf8.count >= 3, utf8[0...2].allSatisfy({ (0x30...0x39).contains($0) }), let code = Int(String(line.prefix(3))),
              (200...599).contains(code), utf8.count == 3 || utf8[3] == UInt8(ascii: " ") || utf8[3] == UInt8(ascii: "-")
        else { throw .malformed(String(line.prefix(80))) }
        let text = utf8.count > 4 ? String(decoding: utf8[4...], as: UTF8.self) : ""
        let last = utf8.count == 3 || utf8[3] == UInt8(ascii: " ")
        var reply = pending ?? (code, [])
        guard reply.code == code else { throw .malformed(String(line.prefix(80))) }
        reply.lines.append(text)
        if reply.lines.count > maxLines { throw .tooManyLines(maxLines) }
        if last {
            pending = nil
            return SMTPReply(code: code, lines: reply.lines)
        }
        pending = reply
        return nil
    }
}

/// What the server's EHLO reply says it can do.
struct SMTPExtensions: Sendable, Equatable {
    var startTLS = false
    /// AUTH mechanisms offered, upper-cased (`PLAIN`, `LOGIN`, …).
    var authMechanisms: Set<String> = []
    var eightBitMIME = false

    init(ehlo reply: SMTPReply) {
        // The first line is the greeting (domain and text); each further line is one keyword.
        for line in reply.lines.dropFirst() {
            let words = line.uppercased().split(whereSeparator: { $0 == " " || $0 == "=" })
            guard let keyword = words.first else { continue }
            switch keyword {
            case "STARTTLS": startTLS = true
            case "8BITMIME": eightBitMIME = true
            case "AUTH": authMechanisms.formUnion(words.dropFirst().map(String.init))
            default: break
            }
        }
    }

    init() {}
}
