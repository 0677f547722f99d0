import NIOCore
import NIOHTTP1

/// Responses the proxy writes itself (no backend involved): short text bodies naming the cause.
enum LocalResponse {
    static func head(status: HTTPResponseStatus, version: HTTPVersion, bodyLength: Int, close: Bool, requestID: String?) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(bodyLength))
        headers.add(name: "cache-control", value: "no-store")
        if let requestID { headers.add(name: "x-request-id", value: requestID) }
        if close { headers.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: version, status: status, headers: headers)
    }

    /// A whole HTTP/1.1 response as bytes, for handlers that sit below the HTTP codec.
    static func raw(status: Int, reason: String, body: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128 + body.utf8.count)
        buffer.writeString("HTTP/1.1 \(status) \(reason)\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
        return buffer
    }
}
