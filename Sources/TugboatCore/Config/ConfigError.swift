/// A configuration problem, located in the file: prints as `FILE:LINE: message`. The message is
/// redacted (``Redaction``): it may quote a value that holds a secret (`state: redis://:pass@…`).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = Redaction.redact(message)
    }

    public var description: String { "\(file):\(line): \(message)" }
}
