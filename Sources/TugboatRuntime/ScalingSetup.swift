import Logging
import ServiceLifecycle
import TugboatCore
import TugboatProxy
import TugboatScaling
import TugboatStore

/// Builds the scaler from `scaling:` and its provider.
enum ScalingSetup {
    static func makeScaler(_ config: TugboatConfig, pool: Pool, signals: SignalBus, dataPlane: ProxyDataPlane,
                           logger: Logger) -> (scaler: Scaler, provider: any InstanceProvider)? {
        guard let settings = config.scaling else { return nil }
        let provider = settings.makeProvider(logger: logger)
        let scaler = Scaler(settings: settings, provider: provider, pool: pool, signals: signals, logger: logger,
                            drainComplete: { address in (dataPlane.inflight()[address] ?? 0) == 0 })
        return (scaler, provider)
    }

    /// Passes the proxy's "a request is waiting and no instance is ready" to the scaler.
    struct DemandForwarder: Service {
        let demand: AsyncStream<Void>
        let scaler: Scaler

        func run() async throws {
            for await _ in demand.cancelOnGracefulShutdown() {
                await scaler.wake()
            }
        }
    }

    /// Publishes the scaler's transitions and instance exits on the signal bus and keeps the
    /// transitions in the store (so `GET /api/scaling/events` survives a restart).
    struct NoticeForwarder: Service {
        let notices: AsyncStream<ScalingNotice>
        let signals: SignalBus
        let store: Store
        let logger: Logger

        func run() async throws {
            for await notice in notices.cancelOnGracefulShutdown() {
                switch notice {
                case .transition(let row):
                    signals.publish(.scalingTransition(from: row.from, to: row.to, state: row.state,
                                                       reason: row.reason, failed: row.failed))
                    do {
                        try await store.recordScalingEvent(.init(at: row.at, from: row.from, to: row.to, state: row.state,
                                                           reason: row.reason, failed: row.failed))
                    } catch {
                        logger.error("scaling event not saved", metadata: ["error": "\(error)"])
                    }
                case .alert(let text):
                    logger.warning("scaling failed", metadata: ["reason": "\(text)"])
                case .instanceExited(let exit):
                    signals.publish(.instanceExited(address: exit.instance.address, status: "\(exit.status)"))
                }
            }
            // The notices end when the scaler stops, which may be reported to the service group
            // just before the scaler itself: returning now would be "finished unexpectedly" and
            // cancel every service still shutting down. Wait for this service's own turn.
            try? await gracefulShutdown()
        }
    }
}
