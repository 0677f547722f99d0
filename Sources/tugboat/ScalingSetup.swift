import Logging
import ServiceLifecycle
import TugboatCore
import TugboatProxy
import TugboatScaling

/// Builds the scaler from `scaling:` and its provider.
enum ScalingSetup {
    static func makeScaler(_ config: TugboatConfig, pool: Pool, signals: SignalBus, dataPlane: ProxyDataPlane,
                           logger: Logger) -> Scaler? {
        guard let settings = config.scaling else { return nil }
        let provider = settings.makeProvider(logger: logger)
        return Scaler(settings: settings, provider: provider, pool: pool, signals: signals, logger: logger,
                      drainComplete: { address in (dataPlane.inflight()[address] ?? 0) == 0 })
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
}
