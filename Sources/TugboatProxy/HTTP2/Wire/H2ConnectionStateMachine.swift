import NIOCore

/// The server side of one HTTP/2 connection (RFC 9113) as a pure state machine: frames from the
/// ``H2FrameReader`` in, stream events out, and every frame Tugboat sends written onto
/// ``outbound`` (control frames, HEADERS, DATA as the flow-control windows allow).
///
/// It keeps the streams' states (open, half-closed either way, closed), both directions' flow
/// control (DATA beyond a window is a FLOW_CONTROL_ERROR; response DATA beyond the client's
/// windows waits in the stream's queue until a WINDOW_UPDATE), the HPACK decoder's table, and the
/// limits an attacker meets: SETTINGS_MAX_CONCURRENT_STREAMS (the stream after the last allowed
/// one gets GOAWAY PROTOCOL_ERROR; those open finish), resets (CVE-2023-44487: more than
/// `resetAllowance` RST_STREAMs in 30 s), and glitches (PINGs, SETTINGS, empty DATA frames, stream
/// errors: more than `glitchAllowance` in 30 s), each GOAWAY ENHANCE_YOUR_CALM. Every stream the
/// client's frames make us reset is such a counted stream error (a second HEADERS after
/// END_STREAM, a window past 2^31-1, a malformed request, body or trailers:
/// ``resetStream(_:code:clientErrorAt:)``), because a reset frees the stream's slot while its
/// backend works on, as a client's own RST_STREAM does (the "MadeYouReset" attack, CVE-2025-8671).
/// A header list above SETTINGS_MAX_HEADER_LIST_SIZE stops decoding at the limit (a connection
/// error: the table is out of step after it).
struct H2ConnectionStateMachine {
    struct Settings: Sendable {
        var maxConcurrentStreams = 100
        /// Our receive window, per stream and for the connection.
        var initialWindowSize = 65535
        var maxHeaderListSize = 64 * 1024
        var resetAllowance = 200
        var glitchAllowance = 200
        var windowSeconds = 30
    }

    enum Event: Equatable {
        case none
        /// A new stream; its fields are in ``fields``.
        case streamOpened(UInt32, endStream: Bool)
        /// A later header block on an open stream (trailers); its fields are in ``fields``.
        case trailers(UInt32, endStream: Bool)
        /// Request DATA; `flowControlled` bytes of the stream's window it used (padding included).
        case data(UInt32, ByteBuffer, endStream: Bool, flowControlled: Int)
        /// The stream is over before its end: the client reset it, or a stream error reset it.
        case streamReset(UInt32)
        /// The acknowledgement of a PING we sent.
        case pingAcknowledged(UInt64)
        /// The client sent GOAWAY: no new streams come.
        case goAwayReceived
        /// We sent GOAWAY and take no new streams (the stream limit was passed): the connection
        /// ends when its open streams do.
        case refusingNewStreams
        /// A connection error: GOAWAY is in ``outbound``; write it and close.
        case connectionError(H2ConnectionError)
    }

    /// What happened to a stream as a side effect, for the I/O layer to pass on.
    enum Notice: Equatable {
        /// `count` bytes of the stream's response DATA went into ``outbound``.
        case sent(UInt32, Int)
        /// The stream ended normally (END_STREAM both ways).
        case closed(UInt32)
    }

    /// A stream's state: plain values (copied in and out of the table at no cost); the DATA that
    /// waits for a window lives apart, in ``queues``.
    private struct Stream {
        var sendWindow: Int
        var receiveWindow: Int
        var remoteClosed: Bool
        var localClosed = false
        /// END_STREAM goes on the frame that empties the stream's queue.
        var endQueued = false
    }

    static let maxWindow = Int(Int32.max)
    /// The PING a drain sends: its acknowledgement says the client has seen the first GOAWAY.
    static let drainPing: UInt64 = 0x7475_6762_6f61_7421

    let settings: Settings
    private(set) var outbound: ByteBuffer
    private(set) var notices: [Notice] = []
    /// The fields of the last header block decoded (valid after `.streamOpened` and `.trailers`).
    private(set) var fields = HeaderFieldList()

    private var decoder = HeaderBlockDecoder()
    private var streams = StreamTable<Stream>()
    /// Response DATA waiting for a window, by stream (only streams that have some: a window
    /// update visits these and no others, so a flood of them costs no more than what waits).
    private var queues = StreamTable<CircularBuffer<ByteBuffer>>()
    private(set) var lastClientStream: UInt32 = 0
    /// Streams above this are refused (set when GOAWAY with a real last stream went out).
    private var acceptsStreamsUpTo = UInt32(Int32.max)
    private var peerInitialWindow = 65535
    private(set) var peerMaxFrameSize = 16384
    private var connectionSendWindow = 65535
    private var connectionReceiveWindow: Int
    private var connectionUnacknowledged = 0
    private var resets: H2RateLimit
    private var glitches: H2RateLimit
    private var draining = false
    private(set) var isClosed = false

    init(settings: Settings = Settings(), allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.settings = settings
        self.outbound = allocator.buffer(capacity: 1024)
        self.connectionReceiveWindow = settings.initialWindowSize
        self.resets = H2RateLimit(allowance: settings.resetAllowance, windowSeconds: settings.windowSeconds)
        self.glitches = H2RateLimit(allowance: settings.glitchAllowance, windowSeconds: settings.windowSeconds)
    }

    var openStreams: Int { streams.count }

    /// Our SETTINGS, the first frame we send (RFC 9113 §3.4).
    mutating func start() {
        H2FrameWriter.writeSettings([
            (H2Setting.maxConcurrentStreams, UInt32(settings.maxConcurrentStreams)),
            (H2Setting.initialWindowSize, UInt32(settings.initialWindowSize)),
            (H2Setting.maxHeaderListSize, UInt32(settings.maxHeaderListSize)),
        ], into: &outbound)
    }

    /// Everything written since the last call.
    mutating func takeOutbound() -> ByteBuffer? {
        guard outbound.readableBytes > 0 else { return nil }
        let bytes = outbound
        outbound.clear(minimumCapacity: 1024)
        return bytes
    }

    /// The notices so far go into `batch` (which must be empty); the machine keeps `batch`'s
    /// storage for the next ones, so handing them over allocates nothing.
    mutating func takeNotices(into batch: inout [Notice]) {
        swap(&notices, &batch)
    }

    var hasNotices: Bool { !notices.isEmpty }

    // MARK: Frames in

    mutating func receive(_ frame: H2Frame, now: UInt64) -> Event {
        guard !isClosed else { return .none }
        switch frame {
        case .headers(let id, let block, let endStream, let dependsOn):
            return receiveHeaders(id, block: block, endStream: endStream, dependsOn: dependsOn, now: now)
        case .data(let id, let payload, let endStream, let flowControlled):
            return receiveData(id, payload: payload, endStream: endStream, flowControlled: flowControlled, now: now)
        case .settings(let values):
            guard glitches.take(now: now) else { return calm("too many SETTINGS frames") }
            return applySettings(values)
        case .settingsAck, .unknown:
            return .none
        case .ping(let data):
            guard glitches.take(now: now) else { return calm("too many PINGs") }
            H2FrameWriter.writePingAck(data, into: &outbound)
            return .none
        case .pingAck(let data):
            if draining && data == Self.drainPing {
                // The client has seen the first GOAWAY: now the real last stream.
                acceptsStreamsUpTo = lastClientStream
                H2FrameWriter.writeGoAway(lastStream: lastClientStream, code: .noError, into: &outbound)
            }
            return .pingAcknowledged(data)
        case .goAway:
            acceptsStreamsUpTo = min(acceptsStreamsUpTo, lastClientStream)
            return .goAwayReceived
        case .windowUpdate(let id, let increment):
            return receiveWindowUpdate(id, increment: increment, now: now)
        case .rstStream(let id, _):
            guard resets.take(now: now) else { return calm("too many RST_STREAM frames (rapid reset)") }
            guard id <= lastClientStream else { return connectionError(.protocolError, "RST_STREAM on idle stream \(id)") }
            return removeStream(id) ? .streamReset(id) : .none
        case .priority(let id, let dependsOn):
            guard id != dependsOn else { return streamError(id, .protocolError, now: now) }
            return .none
        case .streamError(let id, let code):
            return streamError(id, code, now: now)
        }
    }

    private mutating func receiveHeaders(_ id: UInt32, block: ByteBuffer, endStream: Bool, dependsOn: UInt32?, now: UInt64) -> Event {
        // Every block is decoded, even one for a stream that is refused: the table must stay in step.
        do {
            try decoder.decode(block, maxListSize: settings.maxHeaderListSize, into: &fields)
        } catch .listTooLarge {
            return connectionError(.enhanceYourCalm, "a header list above \(settings.maxHeaderListSize) bytes")
        } catch {
            return connectionError(.compressionError, "a header block that does not decode")
        }
        guard id & 1 == 1 else { return connectionError(.protocolError, "HEADERS on even stream \(id)") }
        if var stream = streams[id] {
            guard !stream.remoteClosed else { return streamError(id, .streamClosed, now: now) }
            stream.remoteClosed = endStream
            streams[id] = stream
            if endStream { closeIfDone(id) }
            return .trailers(id, endStream: endStream)
        }
        // A stream already closed (or reset): the block was decoded; nothing else to do.
        guard id > lastClientStream else { return .none }
        lastClientStream = id
        guard id <= acceptsStreamsUpTo else { return .none }
        guard dependsOn != id else { return streamError(id, .protocolError, now: now) }
        guard streams.count < settings.maxConcurrentStreams else {
            // swift-nio-http2 made this a connection error too; the streams open may finish.
            acceptsStreamsUpTo = id >= 2 ? id - 2 : 0
            H2FrameWriter.writeGoAway(lastStream: acceptsStreamsUpTo, code: .protocolError, into: &outbound)
            return .refusingNewStreams
        }
        streams[id] = Stream(sendWindow: peerInitialWindow, receiveWindow: settings.initialWindowSize, remoteClosed: endStream)
        return .streamOpened(id, endStream: endStream)
    }

    private mutating func receiveData(_ id: UInt32, payload: ByteBuffer, endStream: Bool, flowControlled: Int, now: UInt64) -> Event {
        connectionReceiveWindow -= flowControlled
        guard connectionReceiveWindow >= 0 else { return connectionError(.flowControlError, "DATA beyond the connection window") }
        // The connection window is given back as DATA arrives; each stream's only as its request
        // body is taken (``openStreamWindow``).
        connectionUnacknowledged += flowControlled
        if connectionUnacknowledged >= settings.initialWindowSize / 2 {
            H2FrameWriter.writeWindowUpdate(0, increment: connectionUnacknowledged, into: &outbound)
            connectionReceiveWindow += connectionUnacknowledged
            connectionUnacknowledged = 0
        }
        if payload.readableBytes == 0 && !endStream {
            guard glitches.take(now: now) else { return calm("too many empty DATA frames") }
        }
        guard var stream = streams[id] else {
            guard id <= lastClientStream else { return connectionError(.protocolError, "DATA on idle stream \(id)") }
            return .none  // a stream already closed or reset
        }
        guard !stream.remoteClosed else { return streamError(id, .streamClosed, now: now) }
        stream.receiveWindow -= flowControlled
        guard stream.receiveWindow >= 0 else { return streamError(id, .flowControlError, now: now) }
        stream.remoteClosed = endStream
        streams[id] = stream
        if endStream { closeIfDone(id) }
        return .data(id, payload, endStream: endStream, flowControlled: flowControlled)
    }

    private mutating func receiveWindowUpdate(_ id: UInt32, increment: Int, now: UInt64) -> Event {
        if id == 0 {
            connectionSendWindow += increment
            guard connectionSendWindow <= Self.maxWindow else { return connectionError(.flowControlError, "connection window above 2^31-1") }
            sendAllQueued()
            return .none
        }
        guard var stream = streams[id] else {
            guard id <= lastClientStream else { return connectionError(.protocolError, "WINDOW_UPDATE on idle stream \(id)") }
            return .none
        }
        stream.sendWindow += increment
        guard stream.sendWindow <= Self.maxWindow else { return streamError(id, .flowControlError, now: now) }
        streams[id] = stream
        sendQueued(id)
        return .none
    }

    private mutating func applySettings(_ values: [(UInt16, UInt32)]) -> Event {
        for (identifier, value) in values {
            switch identifier {
            case H2Setting.enablePush:
                guard value <= 1 else { return connectionError(.protocolError, "SETTINGS_ENABLE_PUSH of \(value)") }
            case H2Setting.initialWindowSize:
                guard value <= UInt32(Self.maxWindow) else { return connectionError(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1") }
                let delta = Int(value) - peerInitialWindow
                peerInitialWindow = Int(value)
                var overflow = false
                streams.updateEach { stream in
                    stream.sendWindow += delta
                    overflow = overflow || stream.sendWindow > Self.maxWindow
                }
                guard !overflow else { return connectionError(.flowControlError, "a stream window above 2^31-1") }
            case H2Setting.maxFrameSize:
                guard value >= 16384 && value <= 16_777_215 else { return connectionError(.protocolError, "SETTINGS_MAX_FRAME_SIZE of \(value)") }
                peerMaxFrameSize = Int(value)
            default:
                break  // the table size (we never index), stream limits for pushes we never make, unknown ones
            }
        }
        H2FrameWriter.writeSettingsAck(into: &outbound)
        sendAllQueued()
        return .none
    }

    private mutating func streamError(_ id: UInt32, _ code: H2ErrorCode, now: UInt64) -> Event {
        guard glitches.take(now: now) else { return calm("too many stream errors") }
        H2FrameWriter.writeRstStream(id, code: code, into: &outbound)
        return removeStream(id) ? .streamReset(id) : .none
    }

    private mutating func calm(_ reason: String) -> Event {
        connectionError(.enhanceYourCalm, reason)
    }

    private mutating func connectionError(_ code: H2ErrorCode, _ reason: String) -> Event {
        let error = H2ConnectionError(code: code, reason: reason)
        fail(error)
        return .connectionError(error)
    }

    /// Ends the connection with GOAWAY `error.code` (also for errors found by the frame reader).
    mutating func fail(_ error: H2ConnectionError) {
        guard !isClosed else { return }
        isClosed = true
        H2FrameWriter.writeGoAway(lastStream: lastClientStream, code: error.code, into: &outbound)
    }

    // MARK: Frames out

    /// Gives `increment` bytes of a stream's receive window back (its request body was taken).
    mutating func openStreamWindow(_ id: UInt32, increment: Int) {
        guard increment > 0, var stream = streams[id], !stream.remoteClosed else { return }
        stream.receiveWindow += increment
        streams[id] = stream
        H2FrameWriter.writeWindowUpdate(id, increment: increment, into: &outbound)
    }

    mutating func sendHeaders(_ id: UInt32, block: ByteBuffer, endStream: Bool) {
        guard var stream = streams[id], !stream.localClosed else { return }
        H2FrameWriter.writeHeaders(id, block: block, endStream: endStream, maxFrameSize: peerMaxFrameSize, into: &outbound)
        if endStream {
            stream.localClosed = true
            streams[id] = stream
            closeIfDone(id)
        }
    }

    /// Response DATA: written as far as the windows allow, the rest queued until they open.
    mutating func sendData(_ id: UInt32, _ data: ByteBuffer, endStream: Bool) {
        guard var stream = streams[id], !stream.localClosed else { return }
        stream.localClosed = endStream
        if queues[id] == nil && data.readableBytes <= min(stream.sendWindow, connectionSendWindow, peerMaxFrameSize) {
            // The common case: nothing waits and it all fits in one frame.
            var data = data
            H2FrameWriter.writeDataHeader(id, length: data.readableBytes, endStream: endStream, into: &outbound)
            outbound.writeBuffer(&data)
            stream.sendWindow -= data.readerIndex
            connectionSendWindow -= data.readerIndex
            streams[id] = stream
            if data.readerIndex > 0 { notices.append(.sent(id, data.readerIndex)) }
            if endStream { closeIfDone(id) }
            return
        }
        stream.endQueued = endStream
        streams[id] = stream
        if data.readableBytes > 0 && queues.update(id, { $0.append(data) }) == nil {
            var queue = CircularBuffer<ByteBuffer>(initialCapacity: 4)
            queue.append(data)
            queues[id] = queue
        }
        sendQueued(id)
    }

    /// A window grew: every stream with DATA waiting sends what it now may.
    private mutating func sendAllQueued() {
        guard !queues.isEmpty else { return }
        for id in queues.keys { sendQueued(id) }
    }

    private mutating func sendQueued(_ id: UInt32) {
        guard var stream = streams[id] else {
            queues[id] = nil
            return
        }
        var queue = queues.removeValue(forKey: id)  // moved out: mutated without a copy
        while var first = queue?.popFirst() {
            let allowed = min(stream.sendWindow, connectionSendWindow, peerMaxFrameSize)
            guard allowed > 0 else {
                queue!.prepend(first)
                break
            }
            let count = min(allowed, first.readableBytes)
            var piece = first.readSlice(length: count)!
            if first.readableBytes > 0 { queue!.prepend(first) }
            let last = queue!.isEmpty && stream.endQueued
            H2FrameWriter.writeDataHeader(id, length: count, endStream: last, into: &outbound)
            outbound.writeBuffer(&piece)
            if last { stream.endQueued = false }
            stream.sendWindow -= count
            connectionSendWindow -= count
            notices.append(.sent(id, count))
        }
        if let queue, !queue.isEmpty {
            queues[id] = queue
        } else if stream.endQueued {
            // Everything is out (or there was nothing): END_STREAM on an empty frame.
            H2FrameWriter.writeDataHeader(id, length: 0, endStream: true, into: &outbound)
            stream.endQueued = false
        }
        streams[id] = stream
        closeIfDone(id)
    }

    /// Resets a stream for what its client sent (a malformed request, body or trailers, found
    /// past the frames): a stream error, counted as the machine's own are. `.streamReset` — or,
    /// past the allowance, `.connectionError` with GOAWAY ENHANCE_YOUR_CALM in ``outbound``.
    mutating func resetStream(_ id: UInt32, code: H2ErrorCode, clientErrorAt now: UInt64) -> Event {
        guard !isClosed, streams[id] != nil else { return .none }
        return streamError(id, code, now: now)
    }

    /// Resets a stream from our side (RST_STREAM `code`; the backend's fault or ours, not the
    /// client's); it is over. Nothing is sent for a stream already over.
    mutating func resetStream(_ id: UInt32, code: H2ErrorCode) {
        guard !isClosed, streams[id] != nil else { return }
        H2FrameWriter.writeRstStream(id, code: code, into: &outbound)
        removeStream(id)
    }

    /// Forgets a stream; true if it was open.
    @discardableResult
    private mutating func removeStream(_ id: UInt32) -> Bool {
        queues[id] = nil
        return streams.removeValue(forKey: id) != nil
    }

    private mutating func closeIfDone(_ id: UInt32) {
        guard let stream = streams[id], stream.remoteClosed, stream.localClosed, !stream.endQueued, queues[id] == nil else { return }
        removeStream(id)
        notices.append(.closed(id))
    }

    /// Graceful shutdown: GOAWAY with the highest stream id and a PING; when the PING comes back,
    /// GOAWAY with the real last stream, and no stream above it is taken.
    mutating func quiesce() {
        guard !draining, !isClosed else { return }
        draining = true
        H2FrameWriter.writeGoAway(lastStream: UInt32(Int32.max), code: .noError, into: &outbound)
        H2FrameWriter.writePing(Self.drainPing, into: &outbound)
    }

    /// Ends a connection with nothing left to do (idle, drained): GOAWAY NO_ERROR.
    mutating func goAway() {
        guard !isClosed else { return }
        isClosed = true
        H2FrameWriter.writeGoAway(lastStream: lastClientStream, code: .noError, into: &outbound)
    }
}
