import Logging
import Synchronization

/// Collects every log line (level, message and metadata): to check what was said, and that no secret was.
public final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    public let lines = Mutex<[String]>([])
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init() {}

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }
}
