import Synchronization

/// The process's ``Redactor``: the patterns, and every secret of every config this process has
/// run with (`serve` remembers them at start and on each reload; old ones stay, since texts
/// written before a rotation may still hold them).
package enum Redaction {
    private static let current = Mutex(Redactor())

    /// `text` with every secret replaced by `<redacted>`.
    package static func redact(_ text: String) -> String {
        current.withLock { $0 }.redact(text)
    }

    package static func redact(_ text: String?) -> String? {
        text.map { redact($0) }
    }

    /// Adds the config's secrets to those searched for.
    package static func remember(_ secrets: [String]) {
        current.withLock { $0.remember(secrets) }
    }
}
