#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOPosix
import TugboatCore

/// The access log (`access-log:`): event loops capture one small record per request into their
/// batch (``LoopAccessLog``), batches reach this writer through the bounded ``AccessLogQueue``, and
/// one thread of its own formats them and writes them with write(2) in large chunks.
package final class AccessLog: Sendable {
    package let settings: AccessLogSettings
    let queue: AccessLogQueue
    private let thread: NIOThreadPool

    /// Opens the file (created 0640 if new, appended to; `-` is standard output) and starts the
    /// writer. Fails with an error naming the path and `access-log.path`.
    package convenience init(settings: AccessLogSettings, logger: Logger) throws {
        try self.init(settings: settings, logger: logger, limits: AccessLogQueue.Limits())
    }

    init(settings: AccessLogSettings, logger: Logger, limits: AccessLogQueue.Limits) throws {
        let descriptor = try Self.open(settings)
        self.settings = settings
        queue = AccessLogQueue(limits: limits)
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let writer = Writer(settings: settings, descriptor: descriptor, queue: queue, logger: logger)
        thread.submit { _ in writer.run() }
    }

    /// Records dropped because the queue was full or writing failed (`tugboat_access_log_dropped_total`).
    package var dropped: UInt64 { queue.dropped }
    /// Lines written (`tugboat_access_log_lines_total`).
    package var written: UInt64 { queue.written }

    /// Reopens the file (SIGUSR1, after logrotate moved it); on failure the old one is kept.
    package func reopen() { queue.requestReopen() }

    /// Writes what was handed over and stops the writer. Call after the loops flushed their batches.
    package func finish() async {
        queue.close()
        try? await thread.shutdownGracefully()
    }

    static func open(_ settings: AccessLogSettings) throws -> Int32 {
        if settings.isStandardOutput { return STDOUT_FILENO }
        let descriptor = Glibc.open(settings.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw AccessLogError(path: settings.path, line: settings.pathLine, errno: errno)
        }
        return descriptor
    }
}

/// The access log's file could not be opened.
package struct AccessLogError: Error, CustomStringConvertible {
    package let path: String
    package let line: Int
    package let errno: Int32

    package var description: String {
        "cannot open the access log \(path) ('access-log.path'): \(String(cString: strerror(errno)))"
    }
}

/// The writer thread's loop: take batches, format, write; reopen when asked; stop when closed.
private final class Writer: @unchecked Sendable {
    // Only touched on the writer's thread.
    let settings: AccessLogSettings
    var descriptor: Int32
    let queue: AccessLogQueue
    let logger: Logger
    var formatter: AccessLogFormatter
    var out: [UInt8] = []
    var failing = false
    static let chunk = 256 * 1024

    init(settings: AccessLogSettings, descriptor: Int32, queue: AccessLogQueue, logger: Logger) {
        self.settings = settings
        self.descriptor = descriptor
        self.queue = queue
        self.logger = logger
        formatter = AccessLogFormatter(format: settings.format)
        out.reserveCapacity(Self.chunk + 16 * 1024)
    }

    func run() {
        while true {
            let work = queue.take()
            var pending = 0
            for batch in work.batches {
                batch.arena.withUnsafeReadableBytes { arena in
                    for record in batch.records {
                        formatter.append(record, arena: arena, to: &out)
                        pending += 1
                        if out.count >= Self.chunk {
                            flush(lines: pending)
                            pending = 0
                        }
                    }
                }
            }
            flush(lines: pending)
            if work.reopen { reopen() }
            if work.closing { break }
        }
        if descriptor != STDOUT_FILENO { close(descriptor) }
    }

    /// Writes `out` (which holds `lines` lines); on an error they are counted as dropped.
    private func flush(lines: Int) {
        guard !out.isEmpty else { return }
        let ok = out.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let result = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if result < 0 {
                    if errno == EINTR { continue }
                    if !failing {
                        failing = true
                        logger.error("access log not written", metadata: [
                            "access_log.path": "\(settings.path)", "error": "\(String(cString: strerror(errno)))",
                        ])
                    }
                    return false
                }
                offset += result
            }
            return true
        }
        out.removeAll(keepingCapacity: true)
        if ok {
            failing = false
            queue.countWritten(lines)
        } else {
            queue.countDropped(lines)
        }
    }

    private func reopen() {
        guard !settings.isStandardOutput else { return }
        do {
            let fresh = try AccessLog.open(settings)
            close(descriptor)
            descriptor = fresh
            logger.info("access log reopened", metadata: ["access_log.path": "\(settings.path)"])
        } catch {
            logger.error("access log not reopened; still writing to the old file", metadata: [
                "access_log.path": "\(settings.path)", "error": "\(error)",
            ])
        }
    }
}
