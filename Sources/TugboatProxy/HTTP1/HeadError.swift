/// Why a message head was refused. Requests get the status below and the connection closes;
/// a bad response head becomes a 502 and the upstream connection is closed, never reused.
package struct HeadError: Error, Equatable, CustomStringConvertible {
    enum Kind: Equatable {
        case malformed
        case headTooLarge
        case targetTooLong
        case versionNotSupported
        case notImplemented
        case methodNotAllowed
    }

    var kind: Kind
    package var reason: String

    static func malformed(_ reason: String) -> HeadError { HeadError(kind: .malformed, reason: reason) }

    /// The status a client gets for this error.
    var status: Int {
        switch kind {
        case .malformed: return 400
        case .headTooLarge: return 431
        case .targetTooLong: return 414
        case .versionNotSupported: return 505
        case .notImplemented: return 501
        case .methodNotAllowed: return 405
        }
    }

    package var description: String { reason }
}

/// Limits on what a head may be (the defaults are HAProxy's and nginx's order of magnitude).
package struct HeadLimits: Sendable {
    var maxHeadBytes = 64 * 1024
    var maxTargetBytes = 8 * 1024
    var maxHeaderCount = 128
}
