#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import TugboatCore
import TugboatNetwork

/// One active check: `GET path` expecting 2xx, or a TCP connect when there is no path.
package struct HealthProbe: Sendable {
    package enum Result: Sendable, Equatable {
        case passed
        case failed(String)
        /// The check could not be made here (Tugboat is out of descriptors): says nothing about
        /// the backend, so it must not count against it.
        case inconclusive(String)
    }

    package let path: String?
    package let timeout: Duration
    let group: EventLoopGroup
    /// `pool.tls`: the check speaks TLS too (a handshake that fails is a failed check).
    let tls: BackendTLS?

    package init(path: String?, timeout: Duration, group: EventLoopGroup, tls: BackendTLS? = nil) {
        self.path = path
        self.timeout = timeout
        self.group = group
        self.tls = tls
    }

    package func check(_ address: HostPort) async -> Result {
        let loop = group.next()
        let deadline = NIODeadline.now() + .nanoseconds(timeout.nanoseconds)
        let promise = loop.makePromise(of: Result.self)
        let timeoutText = DurationParser.format(timeout)
        let timer = loop.scheduleTask(deadline: deadline) {
            promise.succeed(.failed("no answer within \(timeoutText)"))
        }
        let path = self.path
        let request = path.map {
            "GET \($0) HTTP/1.1\r\nHost: \(address)\r\nUser-Agent: tugboat-health\r\nConnection: close\r\n\r\n"
        }
        let tls = self.tls
        let connect = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: address.host)) }
                    if request != nil {
                        try channel.pipeline.syncOperations.addHandler(StatusLineReader(promise: promise))
                    }
                }
            }
            .connect(host: address.host, port: address.port)
        connect.whenComplete { result in
            switch result {
            case .failure(let error):
                if let errno = (error as? IOError)?.errnoCode, errno == EMFILE || errno == ENFILE {
                    promise.succeed(.inconclusive("out of file descriptors (\(ErrorText.short(error)))"))
                } else {
                    promise.succeed(.failed(ErrorText.short(error)))
                }
            case .success(let channel):
                guard let request else {
                    promise.succeed(.passed)
                    channel.close(promise: nil)
                    return
                }
                channel.writeAndFlush(channel.allocator.buffer(string: request), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        let result = (try? await promise.futureResult.get()) ?? .failed("check aborted")
        timer.cancel()
        return result
    }
}

/// Reads the status line of the response and fulfils the promise with pass (2xx) or fail.
private final class StatusLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var buffer = ByteBuffer()
    private let promise: EventLoopPromise<HealthProbe.Result>

    init(promise: EventLoopPromise<HealthProbe.Result>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        guard let view = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 8192 { promise.succeed(.failed("status line too long")) }
            return
        }
        let line = String(decoding: buffer.readableBytesView[buffer.readerIndex..<view], as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
            promise.succeed(.failed("not an HTTP response"))
            return
        }
        promise.succeed((200..<300).contains(code) ? .passed : .failed("HTTP \(code)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(.failed("connection closed before a response"))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.succeed(.failed("\(error)"))
        context.close(promise: nil)
    }
}
