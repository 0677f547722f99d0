import Foundation

/// What one notification mail says, before it is rendered.
struct EmailContent: Sendable, Equatable {
    var from: String
    var to: [String]
    var subject: String
    var body: String
    var date: Date
    /// Without the angle brackets: `tugboat.12.9F…@example.com`.
    var messageID: String
}

/// An RFC 5322 message (RFC 2045 MIME, RFC 2047 subject), and the DATA encoding of RFC 5321. Pure.
enum EmailMessage {
    enum TransferEncoding: String, Sendable, Equatable {
        case sevenBit = "7bit", eightBit = "8bit", quotedPrintable = "quoted-printable"
    }

    /// The message with CRLF line ends (not yet dot-stuffed), and the body's encoding: `8bit` only
    /// when the server announced 8BITMIME (the envelope then says `BODY=8BITMIME`).
    static func render(_ content: EmailContent, eightBitAllowed: Bool) -> (text: String, encoding: TransferEncoding) {
        let lines = normalizedLines(content.body)
        let fits = lines.allSatisfy { $0.utf8.count <= 998 }
        let ascii = lines.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } }
        let encoding: TransferEncoding = fits && ascii ? .sevenBit : fits && eightBitAllowed ? .eightBit : .quotedPrintable
        var headers = [
            "From: \(content.from)",
            fold("To: " + content.to.joined(separator: ", ")),
            "Subject: \(encodedWords(content.subject))",
            "Date: \(rfc5322Date(content.date))",
            "Message-ID: <\(content.messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(encoding.rawValue)",
            "Auto-Submitted: auto-generated",
        ]
        headers.append("")
        let body = encoding == .quotedPrintable ? lines.map(quotedPrintable).joined(separator: "\r\n") : lines.joined(separator: "\r\n")
        return (headers.joined(separator: "\r\n") + "\r\n" + body + "\r\n", encoding)
    }

    /// The first line of the text, without control characters, at most `limit` characters.
    static func subject(for text: String, limit: Int = 100) -> String {
        let firstLine = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let clean = String(firstLine.map { $0.isASCII && ($0.asciiValue! < 0x20 || $0.asciiValue! == 0x7f) ? " " : $0 })
            .trimmingCharacters(in: .whitespaces)
        if clean.isEmpty { return "[tugboat] notification" }
        return clean.count <= limit ? clean : String(clean.prefix(limit - 1)) + "…"
    }

    /// Lines ending CRLF, then `.` + CRLF; a line that starts with `.` gets a second one (RFC 5321 §4.5.2).
    static func dotStuffed(_ message: String) -> String {
        var out = ""
        out.reserveCapacity(message.utf8.count + 16)
        for line in message.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast(message.hasSuffix("\r\n") ? 1 : 0) {
            if line.hasPrefix(".") { out += "." }
            out += line
            out += "\r\n"
        }
        return out + ".\r\n"
    }

    /// `Tue, 02 Jan 2024 15:04:05 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// ASCII text as is; anything else as RFC 2047 `=?utf-8?B?…?=` words of at most 75 characters,
    /// split between characters (never inside one), folded onto continuation lines.
    static func encodedWords(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {  // 45 bytes → 60 base64 characters, 72 with the wrapper
                words.append(word(chunk))
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(word(chunk)) }
        return words.joined(separator: "\r\n ")
    }

    /// One line of quoted-printable (RFC 2045 §6.7): lines of at most 76 characters with soft breaks.
    static func quotedPrintable(_ line: String) -> String {
        let bytes = Array(line.utf8)
        var out = ""
        var length = 0
        for (index, byte) in bytes.enumerated() {
            let last = index == bytes.count - 1
            let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 0x20 || byte == 0x09) && !last)
            let piece = literal ? String(UnicodeScalar(byte)) : "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            // Keep room for the soft break "=" at the end of a 76-character line.
            if length + piece.count > (last ? 76 : 75) {
                out += "=\r\n"
                length = 0
            }
            out += piece
            length += piece.count
        }
        return out
    }

    private static func word(_ bytes: [UInt8]) -> String { "=?utf-8?B?\(Data(bytes).base64EncodedString())?=" }

    /// The body split into lines on any of CRLF, CR or LF, without NULs.
    private static func normalizedLines(_ body: String) -> [String] {
        let unified = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .replacingOccurrences(of: "\u{0}", with: "")
        var lines = unified.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// A header longer than 78 characters folded after its commas.
    private static func fold(_ header: String) -> String {
        guard header.count > 78 else { return header }
        return header.replacingOccurrences(of: ", ", with: ",\r\n ")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
