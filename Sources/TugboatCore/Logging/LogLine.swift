import Foundation
import Logging

/// How log lines are written: `text` for people (`key=value`, values with spaces quoted), `json`
/// for machines (one object per line). `log.format` in the config, `--log-format` on the CLI.
package enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// One log line, formatted. Pure: the handler only adds the clock and the write.
package enum LogLine {
    /// `2026-12-04T19:30:00.123Z info tugboat: proxy listening listen.address=127.0.0.1:8080`
    package static func text(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(timestamp(time)) \(level) \(label): \(message)"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(quotedIfNeeded(String(describing: metadata[key]!)))"
        }
        return line + "\n"
    }

    /// `{"time":"…","level":"info","logger":"tugboat","message":"proxy listening","listen.address":"127.0.0.1:8080"}`
    /// Metadata keys come after the fixed ones; one that reuses a fixed name is prefixed with `meta.`.
    package static func json(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"time\":\(jsonString(timestamp(time))),\"level\":\(jsonString(level.rawValue)),\"logger\":\(jsonString(label)),\"message\":\(jsonString(message))"
        for key in metadata.keys.sorted() {
            let name = ["time", "level", "logger", "message"].contains(key) ? "meta." + key : key
            line += ",\(jsonString(name)):\(jsonValue(metadata[key]!))"
        }
        return line + "}\n"
    }

    /// Values with spaces, quotes, `=` or line breaks are written as JSON strings, so one value
    /// can never forge a field or a line.
    static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline || $0 == "\t" }
        return needsQuotes ? jsonString(value) : value
    }

    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): return jsonString(text)
        case .stringConvertible(let convertible): return jsonString(convertible.description)
        case .array(let items): return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.keys.sorted().map { "\(jsonString($0)):\(jsonValue(entries[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    package static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func timestamp(_ time: Date) -> String {
        time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
