import Logging
import TugboatCore
import TugboatProxy
import TugboatScaling

/// Builds the scaler from `scaling:`: the provider, and the settings the policy and state machine use.
enum ScalingSetup {
    static func settings(_ config: TugboatConfig) -> ScalingSettings? {
        guard let scaling = config.scaling else { return nil }
        let provider: ScalingSettings.Provider
        switch scaling.provider {
        case .process(let command, let ports): provider = .process(command: command, ports: ports)
        case .exec(let up, let down, let timeout): provider = .exec(up: up, down: down, timeout: timeout)
        case .docker(let image, let port, let socket): provider = .docker(image: image, port: port, socket: socket)
        }
        let mode: ScalingSettings.Mode
        switch scaling.mode {
        case .targetTracking(let rps): mode = .targetTracking(targetRPS: rps)
        case .thresholds(let up, let down): mode = .thresholds(upRPS: up, downRPS: down)
        }
        return ScalingSettings(
            provider: provider, mode: mode, min: scaling.min, max: scaling.max, window: scaling.window,
            cooldownUp: scaling.cooldownUp, stabilizeDown: scaling.stabilizeDown, panicWindow: scaling.panicWindow,
            drain: config.pool.drain, idleToZero: scaling.idleToZero, startTimeout: scaling.startTimeout
        )
    }

    static func makeScaler(_ config: TugboatConfig, pool: Pool, signals: SignalBus, dataPlane: ProxyDataPlane,
                           logger: Logger) -> Scaler? {
        guard let settings = settings(config) else { return nil }
        let provider = settings.makeProvider(logger: logger)
        return Scaler(settings: settings, provider: provider, pool: pool, signals: signals, logger: logger,
                      drainComplete: { address in (dataPlane.inflight()[address] ?? 0) == 0 })
    }
}
