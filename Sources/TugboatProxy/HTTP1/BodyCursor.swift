import NIOCore

/// Where a message body ends in the byte stream, following its framing. It hands out the body's
/// bytes as slices of the buffers they arrived in (no copy); the rest (a pipelined request, or
/// whatever a backend sent too much) stays in the buffer.
struct BodyCursor {
    private enum Mode {
        case length(remaining: Int)
        case chunked(ChunkedScanner)
        case untilClose
        case complete
    }

    private var mode: Mode

    /// `strict`: a chunked body is held to the grammar (``ChunkedScanner``); a client's request.
    init(_ framing: BodyFraming, strict: Bool = false) {
        switch framing {
        case .none, .length(0): mode = .complete
        case .length(let length): mode = .length(remaining: length)
        case .chunked: mode = .chunked(ChunkedScanner(strict: strict))
        case .untilClose: mode = .untilClose
        }
    }

    var isComplete: Bool { if case .complete = mode { true } else { false } }

    var isUntilClose: Bool { if case .untilClose = mode { true } else { false } }

    /// The body bytes still to come when the length is known (Content-Length).
    var remainingLength: Int? { if case .length(let remaining) = mode { remaining } else { nil } }

    /// Takes the body's next bytes from the front of `buffer`, as they came (chunked framing
    /// included). Nil when `buffer` holds none of the body.
    mutating func take(from buffer: inout ByteBuffer) throws(ChunkedScanner.Failure) -> ByteBuffer? {
        let available = buffer.readableBytes
        guard available > 0 else { return nil }
        switch mode {
        case .complete:
            return nil
        case .untilClose:
            return buffer.readSlice(length: available)
        case .length(let remaining):
            let count = min(remaining, available)
            mode = count == remaining ? .complete : .length(remaining: remaining - count)
            return buffer.readSlice(length: count)
        case .chunked(var scanner):
            mode = .complete  // placeholder while the scanner is out (no copy of its state matters)
            var failure: ChunkedScanner.Failure?
            let count = buffer.withUnsafeReadableBytes { bytes in
                do throws(ChunkedScanner.Failure) { return try scanner.scan(bytes) } catch { failure = error; return 0 }
            }
            if let failure { throw failure }
            mode = scanner.isDone ? .complete : .chunked(scanner)
            return count > 0 ? buffer.readSlice(length: count) : nil
        }
    }

    /// For clients that cannot take chunked (HTTP/1.0): like ``take(from:)`` but only the chunks'
    /// data, each range its own slice, to `emit`.
    mutating func takeDechunked(from buffer: inout ByteBuffer, emit: (ByteBuffer) -> Void) throws(ChunkedScanner.Failure) {
        guard case .chunked(var scanner) = mode else {
            if let slice = try take(from: &buffer) { emit(slice) }
            return
        }
        let start = buffer.readerIndex
        var ranges: [Range<Int>] = []
        var failure: ChunkedScanner.Failure?
        let count = buffer.withUnsafeReadableBytes { bytes in
            do throws(ChunkedScanner.Failure) { return try scanner.scan(bytes) { ranges.append($0) } } catch { failure = error; return 0 }
        }
        if let failure { throw failure }
        mode = scanner.isDone ? .complete : .chunked(scanner)
        for range in ranges where !range.isEmpty {
            emit(buffer.getSlice(at: start + range.lowerBound, length: range.count)!)
        }
        buffer.moveReaderIndex(forwardBy: count)
    }
}

extension ByteBuffer {
    /// Adds bytes that just arrived behind those still unread: taken as they are when none are
    /// left (no copy), copied behind them otherwise.
    mutating func appendArrived(_ arrived: ByteBuffer) {
        if readableBytes == 0 {
            self = arrived
        } else {
            var arrived = arrived
            writeBuffer(&arrived)
        }
    }
}
