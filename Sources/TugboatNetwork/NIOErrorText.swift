import Foundation
import NIOCore
import NIOPosix
import TugboatCore

// NIO's connection errors in the few words ``ErrorText`` gives them: "Connection refused",
// "connect timed out", not a nested dump of NIO's types. Every module that uses NIO depends on
// this one, so whatever binary can meet these errors holds these conformances.

extension NIOConnectionError: ShortErrorText {
    package var shortText: String {
        if let first = connectionErrors.first { return ErrorText.unredacted(first.error) }
        if let dns = dnsAAAAError ?? dnsAError { return "DNS: \(dns)" }
        return "\(self)"
    }
}

extension IOError: ShortErrorText {
    package var shortText: String { String(cString: strerror(errnoCode)) }
}

extension ChannelError: ShortErrorText {
    package var shortText: String {
        switch self {
        case .connectTimeout: "connect timed out"
        case .ioOnClosedChannel, .alreadyClosed, .eof: "connection closed"
        default: "\(self)"
        }
    }
}
