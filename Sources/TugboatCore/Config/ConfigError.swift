/// A configuration problem, located in the file: prints as `FILE:LINE: message`. The message is
/// redacted (``Redaction``): it may quote a value that holds a secret (`state: redis://:pass@…`).
package struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var message: String

    package init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = Redaction.redact(message)
    }

    package var description: String { "\(file):\(line): \(message)" }
}
