import Foundation
import Logging

/// Writes each log line to standard error in one `write`, as text or JSON (`LogLine`).
/// The level and format come from a shared ``LogControl`` (a reload changes them for every
/// logger at once) unless one logger's level was set on it.
package struct TugboatLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    let label: String
    let control: LogControl
    private var ownLevel: Logger.Level?

    package var logLevel: Logger.Level {
        get { ownLevel ?? control.level }
        set { ownLevel = newValue }
    }

    package init(label: String, control: LogControl) {
        self.label = label
        self.control = control
    }

    package init(label: String, level: Logger.Level, format: LogFormat) {
        self.init(label: label, control: LogControl(level: level, format: format))
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var merged = self.metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        // Secrets never reach the log: the message and every value go through the one rule.
        let message = Redaction.redact("\(event.message)")
        merged = merged.mapValues(Self.redacted)
        let line = switch control.format {
        case .text: LogLine.text(time: Date(), level: event.level, label: label, message: message, metadata: merged)
        case .json: LogLine.json(time: Date(), level: event.level, label: label, message: message, metadata: merged)
        }
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { if written < 0 && errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }

    static func redacted(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(Redaction.redact(text))
        case .stringConvertible(let convertible): .string(Redaction.redact(convertible.description))
        case .array(let items): .array(items.map(redacted))
        case .dictionary(let entries): .dictionary(entries.mapValues(redacted))
        }
    }
}
