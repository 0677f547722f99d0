import Dispatch
import Foundation
import ServiceLifecycle
import TugboatProxy

/// Runs beside the access log: SIGUSR1 reopens its file (logrotate's `postrotate`); at shutdown,
/// once the proxy has drained (this service stops after it), the loops' last batches are handed
/// over and written before the writer stops.
struct AccessLogService: Service {
    let accessLog: AccessLog
    let dataPlane: ProxyDataPlane

    /// Called first thing at start: SIGUSR1's default action would end the process.
    static func ignoreUntilHandled() { signal(SIGUSR1, SIG_IGN) }

    func run() async throws {
        Self.ignoreUntilHandled()
        for await _ in SignalDeliveries.stream(SIGUSR1).cancelOnGracefulShutdown() {
            accessLog.reopen()
        }
        await dataPlane.flushAccessLog()
        await accessLog.finish()
    }
}
