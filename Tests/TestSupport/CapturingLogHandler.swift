import Logging
import Synchronization

/// Collects every log line (level, message and metadata): to check what was said, and that no secret was.
package final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    package let lines = Mutex<[String]>([])
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .trace

    package init() {}

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }
}
