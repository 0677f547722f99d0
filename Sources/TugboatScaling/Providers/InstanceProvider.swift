import TugboatCore

/// Where instances come from: a local process, the user's scripts, a Docker container.
///
/// A provider only starts and stops; the ``Scaler`` decides when, and the pool's health checks
/// decide when an instance is ready.
package protocol InstanceProvider: Sendable {
    /// Short name for logs and event reasons (`process`, `exec`, `docker`).
    var name: String { get }

    /// Starts one instance and returns where it will listen. It need not be healthy yet.
    func launch() async throws -> ScalingInstance

    /// Stops an instance (the caller has drained it first). Stopping an instance that is already
    /// gone succeeds.
    func stop(_ instance: ScalingInstance) async throws

    /// The instances of this pool that run now, e.g. to adopt them after a restart.
    func list() async throws -> [ScalingInstance]

    /// Instances that exited on their own (not through ``stop(_:)``). One consumer (the scaler).
    var exits: AsyncStream<InstanceExit> { get }

    /// A config reload changed the provider's settings (same kind): instances launched from now
    /// on use them; running ones are stopped as they were started. Another kind is ignored (a
    /// reload refuses it before it gets here).
    func update(_ settings: ScalingSettings.Provider)

    /// Called once on graceful shutdown: the process provider stops its children here; providers
    /// whose instances should survive a restart (exec, docker) leave them running.
    func shutdown() async

    /// The process behind `address`, for crash forensics, when the provider knows it better than
    /// the port's listener does (a container's port belongs to docker-proxy).
    func process(of address: HostPort) async -> InstanceProcess
}

/// What a provider knows of an instance's process.
package enum InstanceProcess: Sendable, Equatable {
    /// Not one of this provider's instances: look the address up as usual.
    case notMine
    /// Its host pid (read afresh: it changes with every start).
    case running(Int32)
    /// One of this provider's, but not running now.
    case notRunning
}

extension InstanceProvider {
    /// Local processes and scripts' instances are found by their listening port.
    package func process(of address: HostPort) async -> InstanceProcess { .notMine }
}

/// An instance that quit on its own: a Signal for crash forensics and alerts (`instance-exited`).
package struct InstanceExit: Sendable, Equatable, CustomStringConvertible {
    package enum Status: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        case unknown(String)

        package var description: String {
            switch self {
            case .exited(let code): "exit \(code)"
            case .signalled(let signal): "signal \(signal)"
            case .unknown(let text): text
            }
        }
    }

    package var instance: ScalingInstance
    package var status: Status

    package init(instance: ScalingInstance, status: Status) {
        self.instance = instance
        self.status = status
    }

    package var description: String { "\(instance.address) \(status)" }
}

/// A provider operation that failed (launch, stop, list), with a short text for the event log.
package struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    package var message: String

    package init(_ message: String) {
        self.message = message
    }

    package var description: String { message }
}
