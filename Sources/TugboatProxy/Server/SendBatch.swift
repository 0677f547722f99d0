import CProxyIO
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The sends a loop makes at the end of its turn (``TurnEndFlushes``), to several client sockets,
/// in one system call (io_uring: one `io_uring_enter` carrying a non-blocking `sendmsg` per
/// socket). With a `send(2)` each, a send that wakes a client's thread on the loop's own core lets
/// that thread preempt the loop as the call returns, before the next send; the client then sleeps
/// again and is woken again by the next one. In one call every client is woken once, after all of
/// the turn's responses are in their sockets.
///
/// One per event loop, used only on its thread. Where io_uring is missing or refused (an old
/// kernel, `kernel.io_uring_disabled`, a container's seccomp profile) there is none, and each
/// writer sends on its own as before. Each entry's buffers stay alive in the writer's queue until
/// its result is read (``DirectSocketWriter``), as for NIO's own `writev`.
final class SendBatch {
    /// Sockets a batch may hold; more in one turn send on their own.
    static let capacity = 256

    private let ring: OpaquePointer
    private let descriptors: UnsafeMutablePointer<Int32>
    private let messages: UnsafeMutablePointer<msghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let results: UnsafeMutablePointer<Int>
    private(set) var count = 0

    /// Nil when io_uring cannot be used here.
    init?() {
        guard let ring = tugboat_send_ring_open(UInt32(Self.capacity)) else { return nil }
        guard tugboat_send_ring_capacity(ring) >= UInt32(Self.capacity) else {
            tugboat_send_ring_close(ring)
            return nil
        }
        self.ring = ring
        descriptors = .allocate(capacity: Self.capacity)
        messages = .allocate(capacity: Self.capacity)
        vectors = .allocate(capacity: Self.capacity * DirectSocketWriter.maxBuffersPerSend)
        results = .allocate(capacity: Self.capacity)
    }

    deinit {
        tugboat_send_ring_close(ring)
        descriptors.deallocate()
        messages.deallocate()
        vectors.deallocate()
        results.deallocate()
    }

    var isFull: Bool { count == Self.capacity }

    /// Adds one socket's send of `buffers` (at most ``DirectSocketWriter/maxBuffersPerSend``);
    /// returns its slot, whose result ``result(_:)`` gives after ``submit()``.
    func add(_ descriptor: Int32, _ buffers: ArraySlice<ByteBuffer>) -> Int {
        precondition(!isFull && !buffers.isEmpty && buffers.count <= DirectSocketWriter.maxBuffersPerSend)
        let slot = count
        let first = vectors + slot * DirectSocketWriter.maxBuffersPerSend
        for (offset, buffer) in buffers.enumerated() {
            buffer.withUnsafeReadableBytes { bytes in
                first[offset] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            }
        }
        descriptors[slot] = descriptor
        messages[slot] = msghdr()
        messages[slot].msg_iov = first
        messages[slot].msg_iovlen = buffers.count
        count += 1
        return slot
    }

    /// Sends every added entry. False when the ring could not be entered: nothing was sent, and
    /// every slot's result says so (-1), so each writer sends on its own.
    @discardableResult
    func submit() -> Bool {
        guard count > 0 else { return true }
        let completed = tugboat_send_ring_submit(ring, Int32(count), descriptors, messages, results)
        guard completed >= 0 else {
            for slot in 0..<count { results[slot] = -1 }
            return false
        }
        return true
    }

    /// Bytes the socket of `slot` took, or a negative value: none (the writer hands its bytes to
    /// the channel, which waits for room or reports the error).
    func result(_ slot: Int) -> Int { results[slot] }

    /// The turn is over: the slots are free for the next.
    func reset() { count = 0 }
}
