import Foundation
import Logging
import ServiceLifecycle
import TugboatStore

/// `retention`: deletes the store's history older than the retention at start and every hour.
struct HistoryPruner: Service {
    let store: Store
    let retention: Duration
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await prune()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func prune() async {
        let cutoff = Date().addingTimeInterval(-Double(retention.seconds))
        do {
            let pruned = try await store.prune(before: cutoff)
            if pruned.total > 0 {
                logger.info("history pruned", metadata: [
                    "pruned.incidents": "\(pruned.incidents)", "pruned.notifications": "\(pruned.notifications)",
                    "pruned.outages": "\(pruned.outages)", "pruned.profiles": "\(pruned.profiles)",
                    "pruned.scaling_events": "\(pruned.scalingEvents)", "pruned.silences": "\(pruned.silences)",
                ])
            }
        } catch {
            logger.error("history could not be pruned", metadata: ["error": "\(error)"])
        }
    }
}
