import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The Docker Engine API over its unix socket, API version 1.41 (the newest Debian's docker.io
/// speaks). Every request carries `Host: localhost`: AsyncHTTPClient sends none over a unix
/// socket and dockerd answers 400 without one.
struct DockerAPI: Sendable {
    var socket: String
    var version = "v1.41"
    var client: HTTPClient = .shared

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func url(_ path: String) throws -> String {
        guard let url = URL(httpURLWithSocketPath: socket, uri: "/\(version)\(path)") else {
            throw Failure(description: "bad docker socket path \(socket)")
        }
        return url.absoluteString
    }

    func request(_ method: HTTPMethod, _ path: String, json: Any? = nil, body: Data? = nil,
                 timeout: TimeAmount = .seconds(60)) async throws -> (status: UInt, body: Data) {
        var request = HTTPClientRequest(url: try url(path))
        request.method = method
        request.headers.add(name: "Host", value: "localhost")
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        } else if let body {
            request.headers.add(name: "Content-Type", value: "application/x-tar")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return (response.status.code, Data(buffer.readableBytesView))
    }

    /// The `message` of a Docker error body, or the status.
    static func message(_ status: UInt, _ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let message = object["message"] as? String {
            return "docker \(status): \(message)"
        }
        return "docker \(status)"
    }

    /// Percent-encodes a query value (for `filters`).
    static func query(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// Whether something answers `GET /_ping` on the socket.
    func ping() async -> Bool {
        guard FileManager.default.fileExists(atPath: socket) else { return false }
        return (try? await request(.GET, "/_ping", timeout: .seconds(2)).status) == 200
    }
}
