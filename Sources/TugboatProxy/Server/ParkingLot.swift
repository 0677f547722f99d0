import CProxyIO
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// Idle keep-alive connections set aside without their SwiftNIO channel: a connection idle for
/// ``ProxyHandler/parkAfter`` hands a duplicate of its socket here and closes its channel (the
/// socket stays open: the duplicate holds it). One thread watches every parked socket with epoll;
/// when a client sends its next request (or closes), the socket goes back to its event loop as a
/// new channel; at its idle deadline it is closed. A parked connection costs a table entry
/// instead of a channel's couple of KiB — what 10,000 idle browsers cost a front door.
final class ParkingLot: Sendable {
    private struct Entry {
        var context: NIOLoopBoundBox<LoopContext>
        var closeAt: NIODeadline
    }

    private struct State {
        var parked: [Int32: Entry] = [:]
        /// The soonest `closeAt` (a scan is skipped until then).
        var nextExpiry: NIODeadline = .distantFuture
        var started = false
        var stopped = false
        /// Graceful shutdown: no new parking; every parked connection closes by this time.
        var closeAllBy: NIODeadline?
        /// Parked since the heap was last trimmed (see ``trimEvery``).
        var parkedSinceTrim = 0
    }

    private let state = Mutex<State>(State())
    private let watch: Int32
    private let counts: ConnectionCounts
    private let thread = NIOThreadPool(numberOfThreads: 1)

    /// How often the thread looks at idle deadlines (a parked connection closes at most this late).
    static let tick = 100
    /// After this many connections were parked, the heap's free pages (their channels' memory) are
    /// given back to the system, at most once a second.
    static let trimEvery = 256

    /// Nil when the system refuses an epoll instance: connections then stay in their channels.
    init?(counts: ConnectionCounts) {
        let watch = tugboat_watch_open()
        guard watch >= 0 else { return nil }
        self.watch = watch
        self.counts = counts
    }

    deinit {
        // Never started (a data plane in a test, or one that never parked): only the epoll to close.
        if state.withLock({ !$0.started && !$0.stopped }) { close(watch) }
    }

    /// Takes `fd` (a duplicate of an idle connection's socket, counted open) until the client
    /// speaks or `closeAt`. False when it cannot (shutting down): the caller closes the duplicate.
    /// The socket comes back to `home`'s loop (its own, or with `threads: auto` an active one).
    func park(_ fd: Int32, home context: NIOLoopBoundBox<LoopContext>, closeAt: NIODeadline) -> Bool {
        let watch = self.watch
        let (accepted, start) = state.withLock { state -> (Bool, Bool) in
            // Watched while the lock is held: the thread cannot close it in between.
            guard !state.stopped, state.closeAllBy == nil, tugboat_watch_add(watch, fd) == 0 else { return (false, false) }
            state.parked[fd] = Entry(context: context, closeAt: closeAt)
            state.parkedSinceTrim += 1
            counts.parkedChanged(by: 1)
            state.nextExpiry = min(state.nextExpiry, closeAt)
            let start = !state.started
            state.started = true
            return (true, start)
        }
        guard accepted else { return false }
        if start {
            thread.start()
            thread.submit { _ in self.run() }
        }
        return true
    }

    /// Graceful shutdown: nothing more is parked, and what is parked closes within `grace` unless
    /// its client sends a request first (which is then answered and the connection closed).
    func beginShutdown(grace: TimeAmount) {
        state.withLock { state in
            let by = NIODeadline.now() + grace
            state.closeAllBy = by
            state.nextExpiry = min(state.nextExpiry, by)
        }
    }

    /// Closes every parked connection and ends the thread.
    func stop() {
        let started = state.withLock { state in
            state.stopped = true
            return state.started
        }
        if started {
            try? thread.syncShutdownGracefully()
        } else {
            closeAll(everything: true)
            close(watch)
        }
    }

    private func run() {
        var ready = [Int32](repeating: -1, count: 64)
        var lastTrim = NIODeadline.now()
        while !state.withLock({ $0.stopped }) {
            let now = NIODeadline.now()
            if now - lastTrim >= .seconds(1), state.withLock({ state in
                defer { if state.parkedSinceTrim >= Self.trimEvery { state.parkedSinceTrim = 0 } }
                return state.parkedSinceTrim >= Self.trimEvery
            }) {
                lastTrim = now
                tugboat_trim_heap()
            }
            let count = ready.withUnsafeMutableBufferPointer { tugboat_watch_wait(watch, $0.baseAddress, 64, Int32(Self.tick)) }
            for index in 0..<max(0, Int(count)) {
                let fd = ready[index]
                guard let entry = state.withLock({ $0.parked.removeValue(forKey: fd) }) else { continue }
                _ = tugboat_watch_remove(watch, fd)
                counts.parkedChanged(by: -1)
                let counts = self.counts
                entry.context.eventLoop.execute { SocketAdoption.adopt(fd, into: entry.context.value, counts: counts) }
            }
            closeAll(everything: false)
        }
        closeAll(everything: true)
        close(watch)
    }

    /// Closes the parked connections whose time is up (or all of them).
    private func closeAll(everything: Bool) {
        let now = NIODeadline.now()
        let expired: [Int32] = state.withLock { state in
            guard everything || state.nextExpiry <= now else { return [] }
            var expired: [Int32] = []
            var next = NIODeadline.distantFuture
            for (fd, entry) in state.parked {
                let closeAt = min(entry.closeAt, state.closeAllBy ?? .distantFuture)
                if everything || closeAt <= now {
                    expired.append(fd)
                } else {
                    next = min(next, closeAt)
                }
            }
            for fd in expired { state.parked.removeValue(forKey: fd) }
            state.nextExpiry = next
            return expired
        }
        for fd in expired {
            _ = tugboat_watch_remove(watch, fd)
            close(fd)
            counts.parkedChanged(by: -1)
            counts.release()
        }
    }

    var count: Int { state.withLock { $0.parked.count } }
}
