import Dispatch
import Synchronization

/// The bounded hand-over from the event loops to the access-log writer: whole batches go in (one
/// lock per batch, never per request); when the records or bytes waiting would pass the limits, the
/// batch is dropped and counted instead, so a slow disk never slows the proxy.
final class AccessLogQueue: Sendable {
    struct Limits: Sendable {
        var maxRecords = 65_536
        var maxBytes = 32 << 20
    }

    /// What the writer takes in one go.
    struct Work: Sendable {
        var batches: [AccessLogBatch] = []
        var reopen = false
        var closing = false
    }

    private struct State {
        var batches: [AccessLogBatch] = []
        var records = 0
        var bytes = 0
        var reopen = false
        var closing = false
    }

    let limits: Limits
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let droppedCount = Atomic<UInt64>(0)
    private let writtenCount = Atomic<UInt64>(0)

    init(limits: Limits = Limits()) { self.limits = limits }

    /// Records dropped because the queue was full (or because writing them failed).
    var dropped: UInt64 { droppedCount.load(ordering: .relaxed) }
    /// Lines written.
    var written: UInt64 { writtenCount.load(ordering: .relaxed) }

    /// Queues `batch` for the writer; false (and its records counted as dropped) when it does not fit.
    @discardableResult
    func offer(_ batch: AccessLogBatch) -> Bool {
        let count = batch.records.count
        guard count > 0 else { return true }
        let bytes = batch.arena.readableBytes
        let accepted = state.withLock { state in
            guard !state.closing, state.records + count <= limits.maxRecords, state.bytes + bytes <= limits.maxBytes else {
                return false
            }
            state.batches.append(batch)
            state.records += count
            state.bytes += bytes
            return true
        }
        if accepted {
            wakeup.signal()
        } else {
            countDropped(count)
        }
        return accepted
    }

    /// Asks the writer to reopen its file (SIGUSR1).
    func requestReopen() {
        state.withLock { $0.reopen = true }
        wakeup.signal()
    }

    /// Asks the writer to write what is queued and stop; later batches are dropped.
    func close() {
        state.withLock { $0.closing = true }
        wakeup.signal()
    }

    /// The writer: waits until there is something to do, then takes all of it.
    func take() -> Work {
        while true {
            wakeup.wait()
            let work = state.withLock { state -> Work? in
                guard !state.batches.isEmpty || state.reopen || state.closing else { return nil }
                let work = Work(batches: state.batches, reopen: state.reopen, closing: state.closing)
                state.batches.removeAll(keepingCapacity: true)
                state.records = 0
                state.bytes = 0
                state.reopen = false
                return work
            }
            if let work { return work }
        }
    }

    func countDropped(_ count: Int) { droppedCount.add(UInt64(count), ordering: .relaxed) }
    func countWritten(_ count: Int) { writtenCount.add(UInt64(count), ordering: .relaxed) }
}
