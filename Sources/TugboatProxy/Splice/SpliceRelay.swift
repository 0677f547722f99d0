/// The decisions of a response body relayed through a kernel pipe from the backend's socket to
/// the client's (splice(2), as HAProxy's `option splice-response`): what to move next, and what to
/// wait for. Pure; `ProxyHandler+Splice` does the moving and reports each outcome here.
///
/// The pipe is emptied into the client before more is taken from the backend, so bytes that
/// arrive another way (read by the channel, written into the pipe) keep their order, and the
/// backend is only waited for while the pipe is empty.
struct SpliceRelay {
    /// Body bytes still to come from the backend.
    private(set) var remaining: Int
    /// Bytes in the pipe, on their way to the client.
    private(set) var inPipe = 0
    /// What the pipe holds at most.
    let capacity: Int
    /// Bytes moved (into the pipe and out of it) in the current turn of the event loop (see ``turnBudget``).
    private var movedThisTurn = 0

    /// After this many bytes in one turn the relay yields the event loop to its other connections
    /// (a fast pair of sockets would otherwise keep it for a whole large body).
    static let turnBudget = 1024 * 1024
    /// When the client cannot take more, at most this much is taken out of the pipe and written
    /// through the channel, whose completion says when the client can take more again.
    static let channelWriteLimit = 16 * 1024

    /// The body bytes the relay was started with.
    let length: Int

    init(remaining: Int, capacity: Int) {
        self.remaining = remaining
        length = remaining
        self.capacity = capacity
    }

    enum Step: Equatable {
        /// Splice up to this many bytes from the pipe to the client.
        case toClient(Int)
        /// Move up to this many body bytes from the backend into the pipe.
        case fromBackend(Int)
        /// The whole body reached the client.
        case done
    }

    enum Outcome: Equatable {
        case moved(Int)
        /// Nothing can move now (EAGAIN).
        case wouldBlock
        /// The input ended (the backend closed).
        case endOfInput
        case failed(errno: Int32)
    }

    enum Action: Equatable {
        /// Take the next step at once.
        case next
        /// This turn's budget is spent: take the next step in a later turn.
        case yield
        /// Ask the channel to read from the backend when it can (the bytes it reads are written
        /// into the pipe, then the relay goes on).
        case waitForBackend
        /// The client cannot take more: take this many bytes out of the pipe and write them
        /// through the channel; go on once that write completed.
        case writeThroughChannel(Int)
        /// The backend closed or failed before the body's end.
        case backendFailed
        /// The client's socket failed (it is gone).
        case clientFailed
    }

    var next: Step {
        if inPipe > 0 { return .toClient(inPipe) }
        if remaining == 0 { return .done }
        return .fromBackend(min(remaining, capacity))
    }

    /// A new turn of the event loop starts.
    mutating func beginTurn() { movedThisTurn = 0 }

    /// What came of `step`.
    mutating func record(_ outcome: Outcome, of step: Step) -> Action {
        switch (step, outcome) {
        case (.toClient, .moved(let count)):
            inPipe -= count
            return moved(count)
        case (.toClient, .wouldBlock):
            return .writeThroughChannel(min(inPipe, Self.channelWriteLimit))
        case (.toClient, _):
            return .clientFailed
        case (.fromBackend, .moved(let count)):
            remaining -= count
            inPipe += count
            return moved(count)
        case (.fromBackend, .wouldBlock):
            return .waitForBackend
        case (.fromBackend, _):
            return .backendFailed
        case (.done, _):
            return .next
        }
    }

    /// `count` bytes were taken out of the pipe to be written through the channel.
    mutating func tookOut(_ count: Int) {
        inPipe -= count
    }

    private mutating func moved(_ count: Int) -> Action {
        movedThisTurn += count
        return movedThisTurn >= Self.turnBudget ? .yield : .next
    }
}
