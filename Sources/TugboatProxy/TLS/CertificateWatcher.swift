import Foundation
import TugboatCore
import ServiceLifecycle

/// Looks at the certificate files every few seconds and reloads those that changed: a renewed
/// certificate reaches new connections without a restart, open ones are not dropped.
/// Each look publishes every certificate's remaining life (`certificate-expires-within` rules).
/// SIGHUP (the executable's `HangupService`) re-reads them all at once, changed or not.
package struct CertificateWatcher: Service {
    let book: CertificateBook
    let signals: SignalBus?
    let interval: Duration
    /// Added to each certificate's name in the expiry signal (the admin listener's: `admin listener`),
    /// so that its incident says whose certificate it is.
    let targetNote: String?

    package init(book: CertificateBook, signals: SignalBus? = nil, interval: Duration = .seconds(5), targetNote: String? = nil) {
        self.book = book
        self.signals = signals
        self.interval = interval
        self.targetNote = targetNote
    }

    package func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            publishExpiry()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            book.reloadChanged()
        }
    }

    private func publishExpiry() {
        guard let signals else { return }
        for entry in book.current where !entry.isPlaceholder {
            let left = Duration.milliseconds(Int64(entry.notAfter.timeIntervalSinceNow * 1000))
            let name = entry.names.first ?? entry.files?.cert ?? "?"
            signals.publish(.certificateChecked(name: targetNote.map { "\(name) (\($0))" } ?? name, expiresIn: left))
        }
    }
}
