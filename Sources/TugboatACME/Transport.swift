import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// One HTTP exchange with the ACME server, as the client sees it.
struct ACMEResponse: Sendable {
    var status: Int
    /// Header names lowercased; the first value of each.
    var headers: [String: String]
    var body: Data

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// `Retry-After` in seconds or as an HTTP date, relative to `now`; bounded to a day.
    func retryAfter(now: Date = Date()) -> Date? {
        guard let value = header("retry-after")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value), seconds >= 0 { return now.addingTimeInterval(TimeInterval(min(seconds, 86_400))) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value).map { min($0, now.addingTimeInterval(86_400)) }
    }
}

/// How the client reaches the ACME server (a fake one in unit tests).
protocol ACMETransport: Sendable {
    /// `body` nil: GET (directory, nonce as HEAD); otherwise a POST of `application/jose+json`.
    func send(method: String, url: String, body: Data?) async throws(ACMEError) -> ACMEResponse
}

/// AsyncHTTPClient with the optional `tls.acme.ca` roots; every answer is capped in size and every
/// exchange in time.
struct HTTPTransport: ACMETransport {
    static let maxBody = 1 << 20
    let client: HTTPClient
    let timeout: TimeAmount

    /// A client of its own (its trust roots are the ACME server's), shut down with `shutdown()`.
    init(ca: String?, group: EventLoopGroup, timeout: TimeAmount = .seconds(30)) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca { tls.trustRoots = .file(ca) }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(10), read: timeout))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        self.timeout = timeout
    }

    func shutdown() async { try? await client.shutdown() }

    func send(method: String, url: String, body: Data?) async throws(ACMEError) -> ACMEResponse {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "user-agent", value: "Tugboat ACME client")
        if let body {
            request.headers.add(name: "content-type", value: "application/jose+json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw .unreachable("\(method) \(url): \(error)")
        }
        let bytes: ByteBuffer
        do {
            bytes = try await response.body.collect(upTo: Self.maxBody)
        } catch {
            throw .malformed("\(method) \(url): the answer is larger than \(Self.maxBody) bytes or was cut (\(error))")
        }
        var headers: [String: String] = [:]
        for (name, value) in response.headers where headers[name.lowercased()] == nil { headers[name.lowercased()] = value }
        return ACMEResponse(status: Int(response.status.code), headers: headers, body: Data(buffer: bytes))
    }
}
