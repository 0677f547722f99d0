import ServiceLifecycle

/// Looks at the certificate files every few seconds and reloads those that changed: a renewed
/// certificate reaches new connections without a restart, open ones are not dropped.
public struct CertificateWatcher: Service {
    let book: CertificateBook
    let interval: Duration

    public init(book: CertificateBook, interval: Duration = .seconds(5)) {
        self.book = book
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            book.reloadChanged()
        }
    }
}
