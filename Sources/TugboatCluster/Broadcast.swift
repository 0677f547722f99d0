import Synchronization

/// Hands every value to any number of `AsyncStream`s; a new stream starts with the latest value.
final class Broadcast<Element: Sendable>: Sendable {
    private struct State {
        var observers: [Int: AsyncStream<Element>.Continuation] = [:]
        var next = 0
        var finished = false
        var latest: Element?
    }

    private let state = Mutex(State())

    var latest: Element? { self.state.withLock { $0.latest } }

    func stream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(64))
        let id: Int? = self.state.withLock { state in
            if let latest = state.latest { continuation.yield(latest) }
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

    func publish(_ element: Element) {
        self.state.withLock { state in
            state.latest = element
            for observer in state.observers.values { observer.yield(element) }
        }
    }

    func finish() {
        let observers = self.state.withLock { state in
            state.finished = true
            defer { state.observers = [:] }
            return Array(state.observers.values)
        }
        for observer in observers { observer.finish() }
    }
}
