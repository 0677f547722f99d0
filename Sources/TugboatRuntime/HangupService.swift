import Dispatch
import Foundation
import ServiceLifecycle
import TugboatCore

/// SIGHUP reloads (as nginx and HAProxy users expect; it never stops Tugboat): the config file
/// and the certificate files (``ConfigReloader``). The service manager hears of it: `RELOADING=1`,
/// the reload, `READY=1`; `STOPPING=1` when shutdown begins.
struct HangupService: Service {
    let notifier: SystemdNotifier
    let reload: @Sendable () async -> Void

    /// Called first thing at start: until the service runs, a SIGHUP is ignored rather than fatal.
    static func ignoreUntilHandled() { signal(SIGHUP, SIG_IGN) }

    func run() async throws {
        Self.ignoreUntilHandled()
        let notifier = self.notifier
        await withGracefulShutdownHandler {
            for await _ in SignalDeliveries.stream(SIGHUP).cancelOnGracefulShutdown() {
                notifier.reloading()
                await reload()
                notifier.ready()
            }
        } onGracefulShutdown: {
            notifier.stopping()
        }
    }
}
