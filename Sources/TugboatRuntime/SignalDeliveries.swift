import Dispatch

/// A signal's deliveries as an async stream (only the latest kept while one is being handled), for
/// the services that act on SIGHUP and SIGUSR1. The handler goes when the stream ends.
enum SignalDeliveries {
    static func stream(_ signal: Int32) -> AsyncStream<Void> {
        let (deliveries, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let source = Source(DispatchSource.makeSignalSource(signal: signal))
        source.signals.setEventHandler { continuation.yield() }
        continuation.onTermination = { _ in source.signals.cancel() }
        source.signals.resume()
        return deliveries
    }

    /// Dispatch sources are thread-safe; Linux's Dispatch does not say so to the compiler.
    private final class Source: @unchecked Sendable {
        let signals: any DispatchSourceSignal
        init(_ signals: any DispatchSourceSignal) { self.signals = signals }
    }
}
