import Logging
import TugboatCore

extension ScalingSettings {
    /// The provider these settings name, ready for a ``Scaler``.
    ///
    /// - Parameters:
    ///   - pool: the docker label value (`tugboat.pool=<pool>`) that marks this pool's containers.
    ///   - stopGrace: process provider: SIGTERM to SIGKILL; docker: the stop timeout.
    package func makeProvider(pool: String = "default", stopGrace: Duration = .seconds(10), logger: Logger) -> any InstanceProvider {
        switch provider {
        case .process(let command, let ports, let env):
            return ProcessProvider(command: command, ports: ports, environment: env, stopGrace: stopGrace, logger: logger)
        case .exec(let up, let down, let timeout, let env):
            return ExecProvider(up: up, down: down, timeout: timeout, environment: env, logger: logger)
        case .docker(let image, let port, let socket):
            return DockerProvider(image: image, port: port, socket: socket, pool: pool,
                                  stopTimeout: Int(stopGrace.components.seconds), logger: logger)
        case .kubernetes(let target):
            return KubernetesProvider(target: target, readyTimeout: startTimeout, logger: logger)
        }
    }
}
