import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TugboatCore

/// `tugboat healthcheck`: exits 0 when an HTTP GET answers 2xx within the timeout, 1 otherwise.
/// For a container's HEALTHCHECK, where no curl is installed. `https://` (an admin listener with
/// `admin.tls`) speaks TLS without checking the certificate: the check asks whether the process
/// answers on that address, sends nothing secret, and its certificate names a host, not 127.0.0.1.
/// An `http://` URL that gets no HTTP answer is tried over TLS too, so the default works either way.
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Exit 0 when the admin API's /healthz (or --url) answers 2xx, 1 otherwise (for container health checks)."
    )

    @Option(help: "An http:// (or https://, certificate not checked) URL on a literal address.")
    var url: String = "http://127.0.0.1:8081/healthz"

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 3

    func run() async throws {
        guard let target = Self.parse(url) else { throw ValidationError("--url must be http://HOST:PORT/PATH or https://HOST:PORT/PATH, got '\(url)'") }
        let group = MultiThreadedEventLoopGroup.singleton
        let status: Int? = try? await withThrowingTaskGroup(of: Int?.self) { tasks in
            tasks.addTask { try await Self.statusFallingBackToTLS(of: target, group: group) }
            tasks.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = try await tasks.next() ?? nil
            tasks.cancelAll()
            return first
        }
        guard let status, (200..<300).contains(status) else {
            print("unhealthy: \(status.map { "HTTP \($0)" } ?? "no answer") from \(url)")
            throw ExitCode(1)
        }
        print("healthy: HTTP \(status) from \(url)")
    }

    typealias Target = (address: HostPort, path: String, tls: Bool)

    static func parse(_ url: String) -> Target? {
        let tls = url.hasPrefix("https://")
        guard tls || url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(tls ? "https://".count : "http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let address = HostPort(parsing: String(rest[..<slash])) else { return nil }
        return (address, slash == rest.endIndex ? "/" : String(rest[slash...]), tls)
    }

    /// An `http://` URL whose listener gives no HTTP answer is tried once more over TLS: an admin
    /// listener with `admin.tls` closes a plain request without a word, and the image's
    /// HEALTHCHECK (the default URL) should not turn unhealthy because TLS was switched on.
    static func statusFallingBackToTLS(of target: Target, group: EventLoopGroup) async throws -> Int? {
        if let plain = try? await status(of: target, group: group) { return plain }
        guard !target.tls else { return nil }
        return try await status(of: (target.address, target.path, true), group: group)
    }

    static func status(of target: Target, group: EventLoopGroup) async throws -> Int? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let tls = target.tls ? try NIOSSLContext(configuration: configuration) : nil
        let channel = try await ClientBootstrap(group: group)
            .connect(host: target.address.host, port: target.address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "host", value: "\(target.address)")
            headers.add(name: "connection", value: "close")
            try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: headers)))
            try await outbound.write(.end(nil))
            for try await part in inbound {
                if case .head(let head) = part { return Int(head.status.code) }
            }
            return nil
        }
    }
}
