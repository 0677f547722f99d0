import Synchronization

/// A broadcast bus: every subscriber gets every signal published after it subscribed.
///
/// Publishing never blocks; a slow subscriber keeps at most `bufferSize` signals and drops the oldest.
public final class SignalBus: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<Signal>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)
    private let bufferSize: Int

    public init(bufferSize: Int = 1024) {
        self.bufferSize = bufferSize
    }

    public func publish(_ signal: Signal) {
        let continuations = subscribers.withLock { Array($0.values) }
        for continuation in continuations { continuation.yield(signal) }
    }

    /// A stream of the signals published from now on; it ends when the caller stops iterating.
    public func subscribe() -> AsyncStream<Signal> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<Signal>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }
}
