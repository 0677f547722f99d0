import TugboatCore

/// Turns records into access-log lines. Pure (its only state is a cache of the last second's
/// date text); runs on the writer thread, never on an event loop.
///
/// `combined` (Apache/nginx Combined Log Format, then Tugboat's fields as `key=value`):
///
///     127.0.0.1 - - [04/Dec/2026:22:53:44 +0000] "GET /path HTTP/1.1" 200 1234 "https://ref/" "curl/8.5" request_id=5f1c-2a upstream=127.0.0.1:9001 upstream_ms=0.812 total_ms=1.204 retries=0 bytes_in=0
///
/// `json` (one object per line, snake_case keys, null for what is absent):
///
///     {"time":"2026-12-04T22:53:44.123Z","client":"127.0.0.1","method":"GET","target":"/path","protocol":"HTTP/1.1","status":200,"bytes_in":0,"bytes_out":1234,"upstream":"127.0.0.1:9001","upstream_ms":0.812,"total_ms":1.204,"request_id":"5f1c-2a","retries":0}
///
/// Every byte that came from a client is escaped, so no request can break or forge a line:
/// `combined` writes `"`, `\`, control bytes and bytes above 0x7E as `\xHH` (as nginx does);
/// `json` writes valid UTF-8 as it is, `"` and `\` and control characters as JSON escapes, and each
/// byte of an invalid UTF-8 sequence as U+FFFD.
struct AccessLogFormatter {
    let format: AccessLogFormat
    private var cachedSecond: Int64 = .min
    private var cachedDate: [UInt8] = []

    init(format: AccessLogFormat) { self.format = format }

    /// Appends one line (with its `\n`) for `record`, whose spans point into `arena`.
    mutating func append(_ record: AccessLogRecord, arena: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        switch format {
        case .combined: appendCombined(record, arena: arena, to: &out)
        case .json: appendJSON(record, arena: arena, to: &out)
        }
    }

    // MARK: Combined

    private mutating func appendCombined(_ record: AccessLogRecord, arena: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        Self.combinedField(arena.span(record.client), to: &out)
        out.append(contentsOf: " - - [".utf8)
        let second = Self.floorDiv(record.startNanos, 1_000_000_000)
        if second != cachedSecond {
            cachedSecond = second
            cachedDate.removeAll(keepingCapacity: true)
            Self.appendCLFDate(second: second, to: &cachedDate)
        }
        out.append(contentsOf: cachedDate)
        out.append(contentsOf: "] \"".utf8)
        if record.method.isEmpty {
            out.append(UInt8(ascii: "-"))
        } else {
            Self.combinedField(arena.span(record.method), to: &out)
            out.append(UInt8(ascii: " "))
            Self.combinedField(arena.span(record.target), to: &out)
            out.append(UInt8(ascii: " "))
            out.append(record.protocolVersion.text)
        }
        out.append(contentsOf: "\" ".utf8)
        Self.appendInteger(Int64(record.status), to: &out)
        out.append(UInt8(ascii: " "))
        Self.appendInteger(record.bytesOut, to: &out)
        out.append(contentsOf: " \"".utf8)
        Self.combinedField(arena.span(record.referer), to: &out)
        out.append(contentsOf: "\" \"".utf8)
        Self.combinedField(arena.span(record.userAgent), to: &out)
        out.append(contentsOf: "\" request_id=".utf8)
        Self.combinedField(arena.span(record.requestID), to: &out)
        out.append(contentsOf: " upstream=".utf8)
        if let upstream = record.upstream {
            Self.combinedField(upstream.description, to: &out)
        } else {
            out.append(UInt8(ascii: "-"))
        }
        out.append(contentsOf: " upstream_ms=".utf8)
        if record.upstreamNanos >= 0 { Self.appendMilliseconds(record.upstreamNanos, to: &out) } else { out.append(UInt8(ascii: "-")) }
        out.append(contentsOf: " total_ms=".utf8)
        Self.appendMilliseconds(record.totalNanos, to: &out)
        out.append(contentsOf: " retries=".utf8)
        Self.appendInteger(Int64(record.retries), to: &out)
        out.append(contentsOf: " bytes_in=".utf8)
        Self.appendInteger(record.bytesIn, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// A field of a Combined line: `-` when empty; `"`, `\`, control bytes and non-ASCII as `\xHH`.
    static func combinedField(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard !bytes.isEmpty else {
            out.append(UInt8(ascii: "-"))
            return
        }
        for byte in bytes {
            if byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
            } else {
                out.append(byte)
            }
        }
    }

    static func combinedField(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { combinedField(UnsafeRawBufferPointer($0), to: &out) }
    }

    // MARK: JSON

    private func appendJSON(_ record: AccessLogRecord, arena: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(contentsOf: "{\"time\":\"".utf8)
        Self.appendISODate(nanos: record.startNanos, to: &out)
        out.append(contentsOf: "\",\"client\":".utf8)
        Self.jsonString(arena.span(record.client), to: &out)
        out.append(contentsOf: ",\"method\":".utf8)
        Self.jsonString(arena.span(record.method), to: &out)
        out.append(contentsOf: ",\"target\":".utf8)
        Self.jsonString(arena.span(record.target), to: &out)
        out.append(contentsOf: ",\"protocol\":".utf8)
        if record.protocolVersion == .unknown {
            out.append(contentsOf: "null".utf8)
        } else {
            out.append(UInt8(ascii: "\""))
            out.append(record.protocolVersion.text)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: ",\"status\":".utf8)
        Self.appendInteger(Int64(record.status), to: &out)
        out.append(contentsOf: ",\"bytes_in\":".utf8)
        Self.appendInteger(record.bytesIn, to: &out)
        out.append(contentsOf: ",\"bytes_out\":".utf8)
        Self.appendInteger(record.bytesOut, to: &out)
        out.append(contentsOf: ",\"upstream\":".utf8)
        if let upstream = record.upstream {
            var text = upstream.description
            text.withUTF8 { Self.jsonString(UnsafeRawBufferPointer($0), to: &out) }
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: ",\"upstream_ms\":".utf8)
        if record.upstreamNanos >= 0 { Self.appendMilliseconds(record.upstreamNanos, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: ",\"total_ms\":".utf8)
        Self.appendMilliseconds(record.totalNanos, to: &out)
        out.append(contentsOf: ",\"request_id\":".utf8)
        Self.jsonString(arena.span(record.requestID), to: &out)
        out.append(contentsOf: ",\"retries\":".utf8)
        Self.appendInteger(Int64(record.retries), to: &out)
        out.append(contentsOf: "}\n".utf8)
    }

    /// A JSON string of `bytes` (null when empty): valid UTF-8 as is, escapes for `"`, `\` and
    /// control characters, U+FFFD for each byte that is not part of valid UTF-8.
    static func jsonString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard !bytes.isEmpty else {
            out.append(contentsOf: "null".utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20, 0x7F:
                    out.append(contentsOf: "\\u00".utf8)
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0xF)])
                default: out.append(byte)
                }
                index += 1
                continue
            }
            let length = validUTF8Length(bytes, at: index)
            if length == 0 {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD
                index += 1
            } else {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)]))
                index += length
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The length of the valid UTF-8 sequence starting at `index` (a non-ASCII lead byte), or 0.
    static func validUTF8Length(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F  // no surrogates
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        guard bytes[index + 1] >= low && bytes[index + 1] <= high else { return 0 }
        for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 { return 0 }
        return length
    }

    // MARK: Numbers and dates

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let monthNames: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map { Array($0.utf8) }

    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendInteger(value == .min ? .max : -value, to: &out)
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        var rest = UInt64(value)
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }

    /// Milliseconds with three decimals (microsecond resolution): `0.812`, `1204.000`.
    static func appendMilliseconds(_ nanos: Int64, to out: inout [UInt8]) {
        let micros = max(0, nanos) / 1000
        appendInteger(micros / 1000, to: &out)
        out.append(UInt8(ascii: "."))
        appendPadded(Int(micros % 1000), width: 3, to: &out)
    }

    static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    /// `04/Dec/2026:22:53:44 +0000` (always UTC).
    static func appendCLFDate(second: Int64, to out: inout [UInt8]) {
        let (year, month, day) = civilDate(days: floorDiv(second, 86_400))
        let secondOfDay = Int(second - floorDiv(second, 86_400) * 86_400)
        appendPadded(day, width: 2, to: &out)
        out.append(UInt8(ascii: "/"))
        out.append(contentsOf: monthNames[month - 1])
        out.append(UInt8(ascii: "/"))
        appendPadded(year, width: 4, to: &out)
        out.append(UInt8(ascii: ":"))
        appendTime(secondOfDay, to: &out)
        out.append(contentsOf: " +0000".utf8)
    }

    /// `2026-12-04T22:53:44.123Z`.
    static func appendISODate(nanos: Int64, to out: inout [UInt8]) {
        let second = floorDiv(nanos, 1_000_000_000)
        let millis = Int((nanos - second * 1_000_000_000) / 1_000_000)
        let (year, month, day) = civilDate(days: floorDiv(second, 86_400))
        appendPadded(year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendTime(Int(second - floorDiv(second, 86_400) * 86_400), to: &out)
        out.append(UInt8(ascii: "."))
        appendPadded(millis, width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    private static func appendTime(_ secondOfDay: Int, to out: inout [UInt8]) {
        appendPadded(secondOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay % 60, width: 2, to: &out)
    }

    /// Year, month (1…12) and day (1…31) of a day count since 1970-01-01 (proleptic Gregorian;
    /// Howard Hinnant's `civil_from_days`).
    static func civilDate(days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes of `span` (empty when the span is).
    func span(_ span: ArenaSpan) -> UnsafeRawBufferPointer {
        guard !span.isEmpty else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: self[Int(span.start)..<(Int(span.start) + Int(span.count))])
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
