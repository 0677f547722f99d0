/// A broadcast bus: every subscriber gets every signal published after it subscribed.
///
/// Publishing never blocks; a slow subscriber keeps at most `bufferSize` signals and drops the oldest.
package final class SignalBus: Sendable {
    private let broadcast: Broadcast<Signal>

    package init(bufferSize: Int = 1024) {
        broadcast = Broadcast(bufferSize: bufferSize, replaysLatest: false)
    }

    package func publish(_ signal: Signal) {
        broadcast.publish(signal)
    }

    /// A stream of the signals published from now on; it ends when the caller stops iterating.
    package func subscribe() -> AsyncStream<Signal> {
        broadcast.stream()
    }
}
