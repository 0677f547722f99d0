import Foundation
import NIOCore
import NIOHTTP1

/// The bundled sample backend: `/health`, `/work?ms=N` (burns CPU), `/crash` (exits), `/echo`,
/// and test helpers `/download?bytes=N`, `/upload`, `/status?code=N`, `/slow?ms=N`.
final class DemoAppHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// This backend's own address (`127.0.0.1:9001`), reported in `x-backend` and `/echo`.
    private var name = "demo-app"
    private var head: HTTPRequestHead?
    private var uploaded = 0
    private var download: (remaining: Int, chunk: ByteBuffer)?

    func handlerAdded(context: ChannelHandlerContext) {
        if let address = context.channel.localAddress, let ip = address.ipAddress, let port = address.port {
            name = "\(ip):\(port)"
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            uploaded = 0
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                // As nginx does: invite the body at once instead of letting the client wait.
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(let buffer):
            uploaded += buffer.readableBytes
        case .end:
            guard let head else { return }
            self.head = nil
            route(head, context: context)
        }
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let components = URLComponents(string: head.uri)
        let path = components?.path ?? head.uri
        func query(_ name: String) -> Int? {
            components?.queryItems?.first { $0.name == name }?.value.flatMap { Int($0) }
        }
        switch path {
        case "/health":
            respond(context, head, .ok, "ok\n")
        case "/work":
            let ms = min(query("ms") ?? 10, 60_000)
            let spins = burnCPU(milliseconds: ms)
            respond(context, head, .ok, "worked \(ms) ms (\(spins) spins)\n")
        case "/crash":
            FileHandle.standardError.write("demo-app \(name): /crash requested, exiting\n".data(using: .utf8)!)
            exit(70)
        case "/echo":
            respond(context, head, .ok, echo(head), contentType: "application/json")
        case "/upload":
            respond(context, head, .ok, "{\"bytes\":\(uploaded)}\n", contentType: "application/json")
        case "/status":
            let code = query("code") ?? 200
            respond(context, head, HTTPResponseStatus(statusCode: code), "status \(code)\n")
        case "/slow":
            let ms = query("ms") ?? 1000
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
                let (handler, context) = bound.value
                handler.respond(context, head, .ok, "slept \(ms) ms\n")
            }
        case "/download":
            startDownload(context, head, bytes: query("bytes") ?? 0)
        default:
            respond(context, head, .ok, "hello from demo-app \(name)\n")
        }
    }

    /// Spins the CPU for `milliseconds`: the hot function a flame graph of the demo app shows.
    @inline(never)
    func burnCPU(milliseconds: Int) -> Int {
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(milliseconds) * 1_000_000
        var spins = 0
        var x = 1.0
        while DispatchTime.now().uptimeNanoseconds < end {
            for _ in 0..<1000 { x = x * 1.000001 + 0.000001 }
            spins += 1
        }
        return spins + (x < 0 ? 1 : 0)
    }

    private func echo(_ head: HTTPRequestHead) -> String {
        let headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { "\($0), \($1)" })
        let object: [String: Any] = ["method": head.method.rawValue, "path": head.uri, "headers": headers, "backend": name]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private func responseHead(_ request: HTTPRequestHead, _ status: HTTPResponseStatus, length: Int, contentType: String) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(length))
        headers.add(name: "x-backend", value: name)
        if !request.isKeepAlive { headers.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: request.version, status: status, headers: headers)
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                         _ body: String, contentType: String = "text/plain; charset=utf-8") {
        let buffer = context.channel.allocator.buffer(string: body)
        context.write(wrapOutboundOut(.head(responseHead(request, status, length: buffer.readableBytes, contentType: contentType))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        finish(context, request)
    }

    private func finish(_ context: ChannelHandlerContext, _ request: HTTPRequestHead) {
        let close = !request.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if close { context.close(promise: nil) }
        }
    }

    // MARK: Streaming download with backpressure

    private var downloadRequest: HTTPRequestHead?

    private func startDownload(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, bytes: Int) {
        context.write(wrapOutboundOut(.head(responseHead(request, .ok, length: bytes, contentType: "application/octet-stream"))), promise: nil)
        var chunk = context.channel.allocator.buffer(capacity: 64 * 1024)
        chunk.writeRepeatingByte(UInt8(ascii: "x"), count: 64 * 1024)
        download = (bytes, chunk)
        downloadRequest = request
        pump(context)
    }

    private func pump(_ context: ChannelHandlerContext) {
        while var state = download, context.channel.isWritable {
            if state.remaining == 0 {
                download = nil
                if let request = downloadRequest { finish(context, request) }
                downloadRequest = nil
                return
            }
            let size = min(state.remaining, state.chunk.readableBytes)
            state.remaining -= size
            download = state
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(state.chunk.getSlice(at: 0, length: size)!))), promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context) }
        context.fireChannelWritabilityChanged()
    }
}
