import TugboatCore

/// `/metrics` lines for what is not traffic: the paging outbox, the scaler, the cluster.
enum ControlPlaneMetrics {
    static func render(_ state: AdminState) async -> String {
        var out = ""
        if let store = state.store, let counts = try? await store.notificationCounts() {
            out += MetricHelp.header("tugboat_notifications", "Pages in the outbox by status (pending are still to be delivered or retried).")
            for status in NotificationStatus.allCases {
                out += "tugboat_notifications{status=\"\(status)\"} \(counts[status] ?? 0)\n"
            }
        }
        if let scaler = state.scaler {
            let counts = await scaler.counts
            let decision = await scaler.decision
            let leading = await scaler.isLeading
            out += MetricHelp.header("tugboat_scaling_instances", "Instances the scaler runs: active (launched) and ready (in the pool).")
            out += "tugboat_scaling_instances{state=\"active\"} \(counts.active)\n"
            out += "tugboat_scaling_instances{state=\"ready\"} \(counts.ready)\n"
            if let decision {
                out += MetricHelp.header("tugboat_scaling_desired_instances", "What the scaling policy last asked for.")
                out += "tugboat_scaling_desired_instances \(decision.desired)\n"
            }
            out += MetricHelp.header("tugboat_scaling_leading", "Whether this node's scaler acts (1) or waits for the lease (0).")
            out += "tugboat_scaling_leading \(leading ? 1 : 0)\n"
        }
        if let cluster = state.cluster {
            let status = cluster.metricsStatus
            out += MetricHelp.header("tugboat_cluster_leader", "Whether this node holds the leader lease.")
            out += "tugboat_cluster_leader \(status.leader ? 1 : 0)\n"
            out += MetricHelp.header("tugboat_cluster_redis_up", "Whether this node reaches the shared Redis.")
            out += "tugboat_cluster_redis_up \(status.redisUp ? 1 : 0)\n"
            out += MetricHelp.header("tugboat_cluster_epoch", "The leader lease's epoch as this node last saw it.")
            out += "tugboat_cluster_epoch \(status.epoch)\n"
        }
        return out
    }
}
