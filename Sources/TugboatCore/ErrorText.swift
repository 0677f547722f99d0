import Foundation

/// Short, readable descriptions of network errors for logs, health reasons and pages
/// ("Connection refused", not a nested dump of NIO's error types).
package enum ErrorText {
    /// Redacted (``Redaction``): an error may quote a URL with its credentials.
    package static func short(_ error: Error) -> String {
        Redaction.redact(unredacted(error))
    }

    /// The short text of an error, not yet redacted: an error that knows its own (``ShortErrorText``:
    /// NIO's, described in `TugboatNetwork`, which every module using NIO links) says it; any
    /// other is described as it describes itself.
    package static func unredacted(_ error: Error) -> String {
        (error as? ShortErrorText)?.shortText ?? "\(error)"
    }
}

/// An error that has a short text for people (``ErrorText``).
package protocol ShortErrorText: Error {
    var shortText: String { get }
}
