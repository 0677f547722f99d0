import NIOCore
import NIOHPACK
import Testing
@testable import TugboatProxy

/// The HTTP/2 connection's decisions without I/O: frames in, events and written frames out.
@Suite("HTTP/2 connection state machine")
struct H2ConnectionStateMachineTests {
    struct Rig {
        var machine: H2ConnectionStateMachine
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var reader = H2FrameReader(maxFrameSize: 1 << 24, maxHeaderBlockSize: 1 << 20)
        var now: UInt64 = 1_000_000_000

        init(_ settings: H2ConnectionStateMachine.Settings = .init()) {
            machine = H2ConnectionStateMachine(settings: settings)
            machine.start()
            reader.append(ByteBuffer(bytes: H2FrameReader.preface))
        }

        mutating func headers(_ stream: UInt32, endStream: Bool = true, path: String = "/") -> H2ConnectionStateMachine.Event {
            var block = ByteBuffer()
            try! encoder.encode(headers: HPACKHeaders([(":method", "GET"), (":scheme", "https"), (":path", path)]), to: &block)
            return machine.receive(.headers(stream: stream, block: block, endStream: endStream, dependsOn: nil), now: now)
        }

        mutating func receive(_ frame: H2Frame) -> H2ConnectionStateMachine.Event {
            machine.receive(frame, now: now)
        }

        /// The frames the machine wrote since the last call.
        mutating func written() -> [H2Frame] {
            if let bytes = machine.takeOutbound() { reader.append(bytes) }
            var frames: [H2Frame] = []
            while let frame = try! reader.next() { frames.append(frame) }
            return frames
        }

        func dataBytes(_ frames: [H2Frame], stream: UInt32) -> Int {
            frames.reduce(0) { if case .data(stream, let bytes, _, _) = $1 { $0 + bytes.readableBytes } else { $0 } }
        }
    }

    @Test("SETTINGS first with our limits; a client's SETTINGS is acknowledged; PING is answered")
    func opening() {
        var rig = Rig(.init(maxConcurrentStreams: 7, initialWindowSize: 1000, maxHeaderListSize: 5000))
        #expect(rig.receive(.settings([(H2Setting.maxFrameSize, UInt32(32768))])) == .none)
        #expect(rig.receive(.ping(42)) == .none)
        #expect(rig.written() == [.settings([(3, 7), (4, 1000), (6, 5000)]), .settingsAck, .pingAck(42)])
        #expect(rig.machine.peerMaxFrameSize == 32768)
    }

    @Test("a stream opens with its fields, ends both ways, and is reported closed once")
    func lifecycle() {
        var rig = Rig()
        #expect(rig.headers(1, endStream: false, path: "/x") == .streamOpened(1, endStream: false))
        #expect(String(decoding: rig.machine.fields.value(2), as: UTF8.self) == "/x")
        #expect(rig.receive(.data(stream: 1, payload: ByteBuffer(string: "ab"), endStream: true, flowControlled: 2))
            == .data(1, ByteBuffer(string: "ab"), endStream: true, flowControlled: 2))
        rig.machine.sendHeaders(1, block: ByteBuffer(bytes: [0x88]), endStream: false)
        rig.machine.sendData(1, ByteBuffer(string: "ok"), endStream: true)
        var notices: [H2ConnectionStateMachine.Notice] = []
        rig.machine.takeNotices(into: &notices)
        #expect(notices == [.sent(1, 2), .closed(1)])
        #expect(rig.machine.openStreams == 0)
        // Frames on the closed stream are ignored, not errors.
        #expect(rig.receive(.data(stream: 1, payload: ByteBuffer(string: "late"), endStream: false, flowControlled: 4)) == .none)
        #expect(rig.receive(.windowUpdate(stream: 1, increment: 5)) == .none)
    }

    @Test("protocol errors: even stream ids, frames on idle streams, DATA after END_STREAM, SETTINGS out of range")
    func protocolErrors() {
        var even = Rig()
        guard case .connectionError(let error) = even.headers(2) else { Issue.record("even stream accepted"); return }
        #expect(error.code == .protocolError)
        #expect(even.written().last == .goAway(lastStream: 0, code: .protocolError))

        var idle = Rig()
        #expect(idle.receive(.data(stream: 5, payload: ByteBuffer(), endStream: true, flowControlled: 0)) != .none)
        #expect(idle.machine.isClosed)

        var closed = Rig()
        _ = closed.headers(1)
        #expect(closed.receive(.data(stream: 1, payload: ByteBuffer(string: "x"), endStream: false, flowControlled: 1)) == .streamReset(1))
        #expect(closed.written().contains(.rstStream(stream: 1, code: .streamClosed)))

        for setting in [(H2Setting.maxFrameSize, UInt32(100)), (H2Setting.enablePush, 2), (H2Setting.initialWindowSize, UInt32(1) << 31)] {
            var rig = Rig()
            guard case .connectionError = rig.receive(.settings([setting])) else { Issue.record("\(setting) accepted"); continue }
        }
    }

    @Test("request DATA beyond the stream's window is a stream error; beyond the connection's, a connection error; the connection window comes back by itself")
    func receiveWindows() {
        var rig = Rig(.init(initialWindowSize: 100))
        _ = rig.headers(1, endStream: false)
        _ = rig.headers(3, endStream: false)
        _ = rig.written()
        #expect(rig.receive(.data(stream: 1, payload: ByteBuffer(repeating: 0, count: 60), endStream: false, flowControlled: 60)) != .none)
        #expect(rig.written() == [.windowUpdate(stream: 0, increment: 60)], "half the connection window used: given back")
        #expect(rig.receive(.data(stream: 1, payload: ByteBuffer(repeating: 0, count: 50), endStream: false, flowControlled: 50)) == .streamReset(1))
        rig.machine.openStreamWindow(3, increment: 10)
        #expect(rig.written().contains(.windowUpdate(stream: 3, increment: 10)))

        var flood = Rig(.init(initialWindowSize: 100))
        _ = flood.headers(1, endStream: false)
        _ = flood.headers(3, endStream: false)
        _ = flood.receive(.data(stream: 1, payload: ByteBuffer(repeating: 0, count: 40), endStream: false, flowControlled: 40))
        guard case .connectionError(let error) = flood.receive(.data(stream: 3, payload: ByteBuffer(repeating: 0, count: 70), endStream: false, flowControlled: 70)) else {
            Issue.record("DATA beyond the connection window accepted")
            return
        }
        #expect(error.code == .flowControlError)
    }

    @Test("response DATA waits for the client's windows (stream and connection), in frames no larger than its SETTINGS_MAX_FRAME_SIZE")
    func sendWindows() {
        var rig = Rig()
        _ = rig.headers(1)
        _ = rig.written()
        rig.machine.sendData(1, ByteBuffer(repeating: 1, count: 100_000), endStream: true)
        var frames = rig.written()
        #expect(rig.dataBytes(frames, stream: 1) == 65535)
        #expect(frames.allSatisfy { if case .data(_, let bytes, _, _) = $0 { bytes.readableBytes <= 16384 } else { true } })
        #expect(rig.machine.openStreams == 1)
        _ = rig.receive(.windowUpdate(stream: 1, increment: 50_000))
        #expect(rig.dataBytes(rig.written(), stream: 1) == 0, "the connection window is still shut")
        _ = rig.receive(.windowUpdate(stream: 0, increment: 50_000))
        frames = rig.written()
        #expect(rig.dataBytes(frames, stream: 1) == 100_000 - 65535)
        #expect(frames.last.map { if case .data(1, _, true, _) = $0 { true } else { false } } == true, "END_STREAM on the last frame")
        #expect(rig.machine.openStreams == 0)
    }

    @Test("a smaller SETTINGS_INITIAL_WINDOW_SIZE can shut a stream's window; a larger one opens it and what waits is sent")
    func windowSetting() {
        var rig = Rig()
        _ = rig.receive(.settings([(H2Setting.initialWindowSize, UInt32(10))]))
        _ = rig.headers(1)
        _ = rig.written()
        rig.machine.sendData(1, ByteBuffer(repeating: 1, count: 30), endStream: false)
        #expect(rig.dataBytes(rig.written(), stream: 1) == 10)
        _ = rig.receive(.settings([(H2Setting.initialWindowSize, UInt32(40))]))
        #expect(rig.dataBytes(rig.written(), stream: 1) == 20)
    }

    @Test("the stream after SETTINGS_MAX_CONCURRENT_STREAMS gets GOAWAY PROTOCOL_ERROR naming the last one taken; later streams are ignored")
    func streamLimit() {
        var rig = Rig(.init(maxConcurrentStreams: 2))
        #expect(rig.headers(1) == .streamOpened(1, endStream: true))
        #expect(rig.headers(3) == .streamOpened(3, endStream: true))
        #expect(rig.headers(5) == .refusingNewStreams)
        #expect(rig.written().last == .goAway(lastStream: 3, code: .protocolError))
        #expect(rig.headers(7) == .none)
        #expect(rig.machine.openStreams == 2)
    }

    @Test("rapid reset: RST_STREAMs past the allowance in the window end the connection with ENHANCE_YOUR_CALM; slower ones do not")
    func rapidReset() {
        var rig = Rig(.init(resetAllowance: 10))
        for index in 0..<10 {
            let stream = UInt32(2 * index + 1)
            _ = rig.headers(stream)
            #expect(rig.receive(.rstStream(stream: stream, code: .cancel)) == .streamReset(stream))
        }
        _ = rig.headers(21)
        guard case .connectionError(let error) = rig.receive(.rstStream(stream: 21, code: .cancel)) else { Issue.record("the 11th reset passed"); return }
        #expect(error.code == .enhanceYourCalm)

        var slow = Rig(.init(resetAllowance: 10))
        for index in 0..<40 {
            let stream = UInt32(2 * index + 1)
            _ = slow.headers(stream)
            slow.now += 3_000_000_000  // one every 3 s: the allowance refills
            #expect(slow.receive(.rstStream(stream: stream, code: .cancel)) == .streamReset(stream))
        }
    }

    @Test("glitches (PINGs, empty DATA, stream errors) past the allowance end the connection with ENHANCE_YOUR_CALM")
    func glitches() {
        var rig = Rig(.init(glitchAllowance: 5))
        for _ in 0..<5 { #expect(rig.receive(.ping(1)) == .none) }
        guard case .connectionError(let error) = rig.receive(.ping(1)) else { Issue.record("the 6th PING passed"); return }
        #expect(error.code == .enhanceYourCalm)
        #expect(rig.receive(.ping(1)) == .none, "nothing after the connection error")
    }

    @Test("MadeYouReset (CVE-2025-8671): every stream the client makes us reset is a counted stream error — a second HEADERS after END_STREAM, a window past 2^31-1, a malformed request found by the stream",
          arguments: ["headers", "window", "stream"])
    func madeYouReset(_ provocation: String) {
        var rig = Rig(.init(glitchAllowance: 5))
        func provoke(_ stream: UInt32) -> H2ConnectionStateMachine.Event {
            switch provocation {
            case "headers": rig.headers(stream)
            case "window": rig.receive(.windowUpdate(stream: stream, increment: Int(Int32.max)))
            default: rig.machine.resetStream(stream, code: .protocolError, clientErrorAt: rig.now)
            }
        }
        let code: H2ErrorCode = switch provocation {
        case "headers": .streamClosed
        case "window": .flowControlError
        default: .protocolError
        }
        for index in 0..<5 {
            let stream = UInt32(2 * index + 1)
            #expect(rig.headers(stream) == .streamOpened(stream, endStream: true))
            #expect(provoke(stream) == .streamReset(stream))
        }
        #expect(rig.written().filter { if case .rstStream(_, code) = $0 { true } else { false } }.count == 5)
        #expect(rig.machine.openStreams == 0, "each reset stream is over")
        _ = rig.headers(11)
        guard case .connectionError(let error) = provoke(11) else { Issue.record("the 6th reset passed"); return }
        #expect(error.code == .enhanceYourCalm)
        #expect(rig.written().contains { if case .goAway(_, .enhanceYourCalm) = $0 { true } else { false } })
    }

    @Test("a header list above the limit and an undecodable block are connection errors")
    func headerBlocks() {
        var large = Rig(.init(maxHeaderListSize: 100))
        var block = ByteBuffer()
        try! large.encoder.encode(headers: HPACKHeaders([(":path", String(repeating: "p", count: 200))]), to: &block)
        guard case .connectionError(let error) = large.receive(.headers(stream: 1, block: block, endStream: true, dependsOn: nil)) else {
            Issue.record("a large list accepted")
            return
        }
        #expect(error.code == .enhanceYourCalm)
        var broken = Rig()
        guard case .connectionError(let decode) = broken.receive(.headers(stream: 1, block: ByteBuffer(bytes: [0x80]), endStream: true, dependsOn: nil)) else {
            Issue.record("index 0 accepted")
            return
        }
        #expect(decode.code == .compressionError)
    }

    @Test("drain: GOAWAY with the highest id and a PING; on its answer, GOAWAY with the last stream, and newer streams are refused")
    func drain() {
        var rig = Rig()
        _ = rig.headers(1, endStream: false)
        _ = rig.written()
        rig.machine.quiesce()
        #expect(rig.written() == [.goAway(lastStream: UInt32(Int32.max), code: .noError), .ping(H2ConnectionStateMachine.drainPing)])
        #expect(rig.headers(3, endStream: false) == .streamOpened(3, endStream: false), "in flight before the client saw GOAWAY")
        #expect(rig.receive(.pingAck(H2ConnectionStateMachine.drainPing)) == .pingAcknowledged(H2ConnectionStateMachine.drainPing))
        #expect(rig.written() == [.goAway(lastStream: 3, code: .noError)])
        #expect(rig.headers(5) == .none)
        #expect(rig.machine.openStreams == 2)
    }

    @Test("random frames (valid headers, bad sizes, random payloads) never crash the reader or the machine, and what it writes stays within the allowances")
    func randomFrames() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var rig = Rig(.init(maxConcurrentStreams: 4, glitchAllowance: 20))
            var reader = H2FrameReader()
            var bytes = ByteBuffer(bytes: H2FrameReader.preface)
            H2FrameWriter.writeSettings([], into: &bytes)
            for _ in 0..<Int.random(in: 1...40, using: &generator) {
                let type = UInt8.random(in: 0...10, using: &generator)
                let stream = UInt32.random(in: 0...9, using: &generator)
                let flags = UInt8.random(in: 0...255, using: &generator)
                let length = [0, 1, 4, 5, 6, 8, 9, 20, 200].randomElement(using: &generator)!
                H2FrameWriter.writeHeader(length: length, type: type, flags: flags, stream: stream, into: &bytes)
                for _ in 0..<length { bytes.writeInteger(UInt8.random(in: 0...255, using: &generator)) }
            }
            let input = bytes.readableBytes
            reader.append(bytes)
            var written = 0
            while !rig.machine.isClosed, let frame = try? reader.next() {
                _ = rig.receive(frame)
                written += rig.machine.takeOutbound()?.readableBytes ?? 0
            }
            // SETTINGS, acks, GOAWAY and resets: never more than a small multiple of what came in.
            #expect(written <= 200 + 4 * input, "\(written) bytes written for \(input) read")
            #expect(rig.machine.openStreams <= 4)
        }
    }
}
