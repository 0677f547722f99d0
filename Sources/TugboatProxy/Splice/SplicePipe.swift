import CProxyIO
import Glibc
import NIOCore

/// A kernel pipe a response body passes through from one socket to another with splice(2): the
/// bytes never enter user space. Non-blocking and close-on-exec; kept per event loop for reuse
/// while empty (``LoopContext/takeSplicePipe()``), closed otherwise.
final class SplicePipe {
    private let readEnd: Int32
    private let writeEnd: Int32
    /// The bytes it holds at most.
    let capacity: Int
    private var isOpen = true

    /// The capacity asked for (HAProxy's `tune.pipesize` default is the kernel's 64 KiB; a larger
    /// pipe moves a large body in fewer calls).
    static let requestedCapacity = 256 * 1024

    private init(readEnd: Int32, writeEnd: Int32, capacity: Int) {
        self.readEnd = readEnd
        self.writeEnd = writeEnd
        self.capacity = capacity
    }

    /// A new pipe, or nil when the system refuses one (out of descriptors): the body then goes
    /// through user space as usual.
    static func open() -> SplicePipe? {
        var fds: (Int32, Int32) = (-1, -1)
        let capacity = withUnsafeMutableBytes(of: &fds) { raw in
            tugboat_pipe_open(raw.baseAddress!.assumingMemoryBound(to: Int32.self), Int32(requestedCapacity))
        }
        guard capacity > 0 else { return nil }
        return SplicePipe(readEnd: fds.0, writeEnd: fds.1, capacity: Int(capacity))
    }

    /// Moves up to `count` bytes from a socket into the pipe.
    func fill(from socket: Int32, count: Int) -> SpliceRelay.Outcome {
        Self.outcome(tugboat_splice(socket, writeEnd, count))
    }

    /// Moves up to `count` bytes from the pipe into a socket.
    func drain(to socket: Int32, count: Int) -> SpliceRelay.Outcome {
        Self.outcome(tugboat_splice(readEnd, socket, count))
    }

    /// Writes up to `count` bytes from the front of `buffer` (bytes the channel read) into the pipe.
    func put(from buffer: inout ByteBuffer, count: Int) -> SpliceRelay.Outcome {
        let written = buffer.withUnsafeReadableBytes { bytes in
            Glibc.write(writeEnd, bytes.baseAddress, min(count, bytes.count))
        }
        if written > 0 { buffer.moveReaderIndex(forwardBy: written) }
        return Self.outcome(written)
    }

    /// Reads `count` bytes out of the pipe (which holds at least that many) into a buffer.
    func take(_ count: Int, allocator: ByteBufferAllocator) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: count)
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            max(0, Glibc.read(readEnd, bytes.baseAddress, count))
        }
        return read == count ? buffer : nil
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(readEnd)
        Glibc.close(writeEnd)
    }

    deinit { close() }

    private static func outcome(_ result: Int) -> SpliceRelay.Outcome {
        if result > 0 { return .moved(result) }
        if result == 0 { return .endOfInput }
        let code = errno
        return code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .failed(errno: code)
    }
}
