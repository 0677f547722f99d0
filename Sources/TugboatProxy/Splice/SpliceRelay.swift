/// The decisions of a response body relayed through a kernel pipe from the backend's socket to
/// the client's (splice(2), as HAProxy's `option splice-response`): what to move next, and what to
/// wait for. Pure; `ProxyHandler+Splice` does the moving and reports each outcome here.
///
/// The pipe goes to the client first; while the client cannot take more, it is topped up from the
/// backend (so the backend keeps sending), and only an empty pipe waits for the backend. Bytes
/// that arrive another way (read by the channel) are written into the pipe behind what it holds,
/// so their order never changes.
struct SpliceRelay {
    /// The body bytes the relay was started with.
    let length: Int
    /// Body bytes still to come from the backend.
    private(set) var remaining: Int
    /// Bytes in the pipe, on their way to the client.
    private(set) var inPipe = 0
    /// What the pipe holds at most.
    let capacity: Int
    /// Bytes moved (into the pipe and out of it) in the current turn of the event loop (see ``turnBudget``).
    private var movedThisTurn = 0
    /// In this turn the client's socket took nothing more / the backend's had nothing more.
    private var clientFull = false
    private var backendDry = false

    /// After this many bytes in one turn the relay yields the event loop to its other connections
    /// (a fast pair of sockets would otherwise keep it for a whole large body).
    static let turnBudget = 1024 * 1024
    /// When the client cannot take more, at most this much is taken out of the pipe and written
    /// through the channel, whose completion says when the client can take more again.
    static let channelWriteLimit = 16 * 1024

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
        /// The client cannot take more: take this many bytes out of the pipe and write them
        /// through the channel; a new turn starts once that write completed.
        case writeThroughChannel(Int)
        /// Nothing in the pipe and nothing from the backend: ask the channel to read when the
        /// backend has more (what it reads is written into the pipe; a new turn starts).
        case waitForBackend
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
        /// This turn's budget is spent: start a new turn later.
        case yield
        /// The backend closed or failed before the body's end.
        case backendFailed
        /// The client's socket failed (it is gone).
        case clientFailed
    }

    var next: Step {
        if inPipe > 0 && !clientFull { return .toClient(inPipe) }
        if remaining > 0 && inPipe < capacity && !backendDry { return .fromBackend(min(remaining, capacity - inPipe)) }
        if inPipe > 0 { return .writeThroughChannel(min(inPipe, Self.channelWriteLimit)) }
        return remaining == 0 ? .done : .waitForBackend
    }

    /// A new turn of the event loop starts: both sockets are tried again.
    mutating func beginTurn() {
        movedThisTurn = 0
        clientFull = false
        backendDry = false
    }

    /// What came of `step` (a move to the client or from the backend).
    mutating func record(_ outcome: Outcome, of step: Step) -> Action {
        switch (step, outcome) {
        case (.toClient, .moved(let count)):
            inPipe -= count
            return moved(count)
        case (.toClient, .wouldBlock):
            clientFull = true
            return .next
        case (.toClient, _):
            return .clientFailed
        case (.fromBackend, .moved(let count)):
            remaining -= count
            inPipe += count
            return moved(count)
        case (.fromBackend, .wouldBlock):
            backendDry = true
            return .next
        case (.fromBackend, _):
            return .backendFailed
        case (.writeThroughChannel, _), (.waitForBackend, _), (.done, _):
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
