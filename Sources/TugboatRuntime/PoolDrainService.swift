import ServiceLifecycle
import TugboatCore

/// Runs ``PoolMembership``'s drains in the service group: at graceful shutdown no new drain
/// starts, and those under way finish (a removed backend's requests are not cut short).
struct PoolDrainService: Service {
    let membership: PoolMembership

    func run() async throws {
        await withGracefulShutdownHandler {
            await membership.runDrains()
        } onGracefulShutdown: {
            membership.stopTakingDrains()
        }
    }
}
