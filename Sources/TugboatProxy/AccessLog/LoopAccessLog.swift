#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import TugboatCore

/// One event loop's side of the access log: the batch being filled. Appending a record copies a
/// few dozen bytes into the batch's arena and the integers into its array — no lock, no date, no
/// string. The batch goes to the writer when it is full, and from the loop's once-a-second sweep.
final class LoopAccessLog {
    let queue: AccessLogQueue
    /// `combined` needs Referer and User-Agent; `json` does not, and they are not captured.
    let capturesAgentHeaders: Bool
    static let batchRecords = 512
    static let batchBytes = 128 * 1024
    private(set) var batch: AccessLogBatch
    /// Wall clock minus NIO's (monotonic) clock, refreshed every second, so a record's time is one
    /// addition to the request's start.
    private var wallOffsetNanos: Int64 = 0

    init(queue: AccessLogQueue, format: AccessLogFormat) {
        self.queue = queue
        self.capturesAgentHeaders = format == .combined
        batch = AccessLogBatch(capacity: Self.batchRecords, arenaCapacity: 16 * 1024)
        refreshClock()
    }

    func refreshClock() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let wall = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        wallOffsetNanos = wall - Int64(NIODeadline.now().uptimeNanoseconds)
    }

    func wallNanos(_ deadline: NIODeadline) -> Int64 {
        Int64(deadline.uptimeNanoseconds) + wallOffsetNanos
    }

    /// Adds `record`, whose spans point into `bytes` (the request's captured bytes), to the batch.
    func append(_ record: AccessLogRecord, bytes: ByteBuffer) {
        var record = record
        let base = batch.arena.writerIndex
        batch.arena.writeImmutableBuffer(bytes)
        record.client = record.client.offset(by: base)
        record.method = record.method.offset(by: base)
        record.target = record.target.offset(by: base)
        record.requestID = record.requestID.offset(by: base)
        record.referer = record.referer.offset(by: base)
        record.userAgent = record.userAgent.offset(by: base)
        batch.records.append(record)
        if batch.records.count >= Self.batchRecords || batch.arena.readableBytes >= Self.batchBytes { flush() }
    }

    /// Hands the batch to the writer (or drops it, counted, when the queue is full).
    func flush() {
        guard !batch.records.isEmpty else { return }
        let full = batch
        batch = AccessLogBatch(capacity: Self.batchRecords, arenaCapacity: min(max(full.arena.readableBytes, 4096), Self.batchBytes))
        queue.offer(full)
    }
}
