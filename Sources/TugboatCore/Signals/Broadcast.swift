import Synchronization

/// Hands every value to any number of `AsyncStream`s: the one fan-out (the signal bus, the
/// scaler's notices, the cluster's registry and leadership, a Redis connection's states).
///
/// Publishing never blocks and keeps the order values were published in; a slow stream keeps the
/// newest `bufferSize` values. With `replaysLatest` a new stream starts with the last value
/// published. `finish()` ends every stream, and a stream asked for afterwards at once (after the
/// last value, when replayed).
package final class Broadcast<Element: Sendable>: Sendable {
    private struct State {
        var observers: [Int: AsyncStream<Element>.Continuation] = [:]
        var next = 0
        var finished = false
        var latest: Element?
    }

    private let state = Mutex(State())
    private let bufferSize: Int
    private let replaysLatest: Bool

    package init(bufferSize: Int = 64, replaysLatest: Bool = true) {
        self.bufferSize = bufferSize
        self.replaysLatest = replaysLatest
    }

    /// The last value published (whether or not new streams are given it).
    package var latest: Element? { state.withLock { $0.latest } }

    /// The values published from now on (after the latest, when replayed); it ends when the caller
    /// stops iterating or the broadcast finishes.
    package func stream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(bufferSize))
        let id: Int? = state.withLock { state in
            if replaysLatest, let latest = state.latest { continuation.yield(latest) }
            guard !state.finished else {
                continuation.finish()
                return nil
            }
            let id = state.next
            state.next += 1
            state.observers[id] = continuation
            return id
        }
        if let id {
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.observers.removeValue(forKey: id) }
            }
        }
        return stream
    }

    package func publish(_ element: Element) {
        state.withLock { state in
            guard !state.finished else { return }
            state.latest = element
            for observer in state.observers.values { observer.yield(element) }
        }
    }

    package func finish() {
        let observers = state.withLock { state in
            state.finished = true
            defer { state.observers = [:] }
            return Array(state.observers.values)
        }
        for observer in observers { observer.finish() }
    }
}
