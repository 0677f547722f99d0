import NIOCore

/// Responses the proxy writes itself (no backend involved): short text bodies naming the cause.
enum LocalResponse {
    static func write(status: Int, minorVersion: Int, body: String, close: Bool, requestID: RequestIDSource?,
                      into out: inout ByteBuffer) {
        out.writeStaticString(minorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        out.writeDecimal(status)
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(reason(status))
        out.writeStaticString("\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ")
        out.writeDecimal(body.utf8.count)
        out.writeStaticString("\r\ncache-control: no-store\r\n")
        if let requestID {
            out.writeStaticString("x-request-id: ")
            requestID.write(into: &out)
            out.writeStaticString("\r\n")
        }
        if close {
            out.writeStaticString("connection: close\r\n")
        } else if minorVersion == 0 {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        out.writeString(body)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 414: return "URI Too Long"
        case 431: return "Request Header Fields Too Large"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }
}
