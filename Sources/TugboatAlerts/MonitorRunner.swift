import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TugboatCore

/// Heartbeats one monitor (HTTP or TCP) every `interval`; publishes `Signal.monitorChanged`
/// when it goes down (after `retries` extra failures) or comes back up.
package struct MonitorRunner: Service {
    let monitor: MonitorConfig
    let client: HTTPClient
    let group: EventLoopGroup
    let signals: SignalBus
    let logger: Logger

    package init(monitor: MonitorConfig, client: HTTPClient, group: EventLoopGroup, signals: SignalBus, logger: Logger) {
        self.monitor = monitor
        self.client = client
        self.group = group
        self.signals = signals
        self.logger = logger
    }

    /// How often an `https://` monitor's certificate expiry is read (for `certificate-expires-within`).
    static let certificateInterval: Duration = .seconds(300)

    package func run() async throws {
        var up: Bool?
        var failures = 0
        var certificateCheckedAt: ContinuousClock.Instant?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            if certificateCheckedAt.map({ started - $0 >= Self.certificateInterval }) ?? true {
                certificateCheckedAt = started
                await publishCertificateExpiry()
            }
            let failure = await check()
            if let failure {
                failures += 1
                if up != false && failures > monitor.retries {
                    up = false
                    logger.warning("monitor down", metadata: ["monitor.name": "\(monitor.name)", "reason": "\(failure)"])
                    signals.publish(.monitorChanged(name: monitor.name, up: false, reason: failure))
                }
            } else {
                failures = 0
                if up != true {
                    if up == false { logger.info("monitor up", metadata: ["monitor.name": "\(monitor.name)"]) }
                    up = true
                    signals.publish(.monitorChanged(name: monitor.name, up: true, reason: "check passed"))
                }
            }
            let next = started + monitor.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(until: next) }
        }
    }

    /// For an `https://` monitor: the remaining life of the server's certificate, as a signal
    /// named after the URL's host (nothing when the handshake fails: the check itself reports that).
    func publishCertificateExpiry() async {
        guard case .http(let text, _, _) = monitor.target, let url = URL(string: text), url.scheme == "https", let host = url.host else { return }
        do {
            let notAfter = try await PeerCertificateProbe.notAfter(host: host, port: url.port ?? 443, timeout: monitor.timeout, group: group)
            signals.publish(.certificateChecked(name: host, expiresIn: .milliseconds(Int64(notAfter.timeIntervalSinceNow * 1000))))
        } catch {
            logger.debug("certificate expiry not read", metadata: ["monitor.name": "\(monitor.name)", "error": "\(error)"])
        }
    }

    /// One check; nil when it passed, else why it failed.
    package func check() async -> String? {
        switch monitor.target {
        case .tcp(let address):
            do {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(monitor.timeout.nanoseconds))
                    .connect(host: address.host, port: address.port).get()
                try? await channel.close()
                return nil
            } catch {
                return "TCP connect to \(address): \(ErrorText.short(error))"
            }
        case .http(let url, let expectStatus, let expectBody):
            do {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "User-Agent", value: "tugboat-monitor")
                let response = try await client.execute(request, timeout: .nanoseconds(monitor.timeout.nanoseconds))
                let status = Int(response.status.code)
                let statusOK = expectStatus.map { $0 == status } ?? (200..<300).contains(status)
                guard statusOK else { return "HTTP \(status)" }
                if let expectBody {
                    let body = try await response.body.collect(upTo: 1 << 20)
                    guard String(buffer: body).contains(expectBody) else { return "body does not contain \"\(expectBody)\"" }
                }
                return nil
            } catch {
                return "GET \(Redaction.redact(url)): \(ErrorText.short(error))"
            }
        }
    }
}
