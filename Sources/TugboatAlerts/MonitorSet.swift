import ServiceLifecycle
import TugboatCore

/// The `monitors:` of the config, each run by a ``MonitorRunner``; a reload replaces the whole set
/// (``replace(_:)``): the running checks are cancelled and the new ones start, each publishing its
/// first result as a fresh `monitorChanged` signal.
package actor MonitorSet: Service {
    private let makeRunner: @Sendable (MonitorConfig) -> MonitorRunner
    private var monitors: [MonitorConfig]
    /// Ends the running generation when a new set arrives.
    private var endGeneration: AsyncStream<Void>.Continuation?

    package init(_ monitors: [MonitorConfig], makeRunner: @escaping @Sendable (MonitorConfig) -> MonitorRunner) {
        self.monitors = monitors
        self.makeRunner = makeRunner
    }

    /// Runs `monitors` from now on instead of the current set.
    package func replace(_ monitors: [MonitorConfig]) {
        self.monitors = monitors
        endGeneration?.yield()
    }

    package func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let (ended, end) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            endGeneration = end
            let runners = monitors.map(makeRunner)
            await withTaskGroup(of: Void.self) { group in
                for runner in runners { group.addTask { try? await runner.run() } }
                group.addTask { for await _ in ended.cancelOnGracefulShutdown() { return } }
                // The generation ends when it is replaced or shutdown begins; then the checks stop.
                _ = await group.next()
                group.cancelAll()
            }
        }
    }
}
