import Foundation
import NIOCore
import NIOPosix

/// Short, readable descriptions of network errors for logs, health reasons and pages
/// ("Connection refused", not a nested dump of NIO's error types).
public enum ErrorText {
    /// Redacted (``Redaction``): an error may quote a URL with its credentials.
    public static func short(_ error: Error) -> String {
        Redaction.redact(unredacted(error))
    }

    private static func unredacted(_ error: Error) -> String {
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return unredacted(first.error) }
            if let dns = connection.dnsAAAAError ?? connection.dnsAError { return "DNS: \(dns)" }
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return "connect timed out"
            case .ioOnClosedChannel, .alreadyClosed, .eof: return "connection closed"
            default: return "\(channel)"
            }
        }
        return "\(error)"
    }
}
