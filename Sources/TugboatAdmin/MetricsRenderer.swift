import TugboatCore
import TugboatProxy

/// Renders the proxy's traffic in Prometheus text format. Histograms come from the per-loop
/// HdrHistograms merged once a second, so nothing on the request path touches swift-metrics.
enum MetricsRenderer {
    static func render(stats: TrafficStats, snapshot: PoolSnapshot, inflight: [HostPort: Int],
                       connections: ConnectionCounts? = nil, splices: SpliceCounts? = nil,
                       accessLog: AccessLog? = nil, loops: LoopSpreadView? = nil) -> String {
        var out = ""
        if let accessLog {
            out += MetricHelp.header("tugboat_access_log_lines_total", "Access-log lines written.", type: "counter")
            out += "tugboat_access_log_lines_total \(accessLog.written)\n"
            out += MetricHelp.header("tugboat_access_log_dropped_total",
                                     "Access-log lines dropped: the writer's queue was full, or writing failed.", type: "counter")
            out += "tugboat_access_log_dropped_total \(accessLog.dropped)\n"
        }
        if let connections {
            out += MetricHelp.header("tugboat_connections_open", "Client connections open right now.")
            out += "tugboat_connections_open \(connections.open)\n"
            out += MetricHelp.header("tugboat_connections_parked",
                                     "Of the open client connections, the idle ones set aside without a channel until their next request.")
            out += "tugboat_connections_parked \(connections.parked)\n"
            out += MetricHelp.header("tugboat_connections_rejected_total", "Client connections refused over max-connections.", type: "counter")
            out += "tugboat_connections_rejected_total \(connections.rejected)\n"
        }
        if let splices {
            out += MetricHelp.header("tugboat_spliced_responses_total",
                                     "Response bodies relayed from backend to client through a kernel pipe (splice).", type: "counter")
            out += "tugboat_spliced_responses_total \(splices.responses)\n"
            out += MetricHelp.header("tugboat_spliced_bytes_total", "Bytes of the spliced response bodies.", type: "counter")
            out += "tugboat_spliced_bytes_total \(splices.bytes)\n"
        }
        if let loops {
            out += MetricHelp.header("tugboat_event_loops_active",
                                     "threads: auto: the proxy's event loops client connections gather on now (of tugboat_event_loops); the others hand theirs over between requests (over TLS: new HTTP/2 connections start on these).")
            out += "tugboat_event_loops_active \(loops.active)\n"
            out += MetricHelp.header("tugboat_event_loops", "The proxy's event loops (threads).")
            out += "tugboat_event_loops \(loops.loops)\n"
            out += MetricHelp.header("tugboat_connections_moved_total",
                                     "Client connections handed from one event loop to another (threads: auto): between requests, or over TLS an HTTP/2 connection before its handshake.", type: "counter")
            out += "tugboat_connections_moved_total \(loops.moved)\n"
            if loops.placesHTTP2 {
                out += MetricHelp.header("tugboat_http2_connections", "HTTP/2 client connections open, by the event loop they are on (threads: auto over TLS).")
                for loop in 0..<loops.loops { out += "tugboat_http2_connections{loop=\"\(loop)\"} \(loops.http2Connections(onLoop: loop))\n" }
            }
        }
        out += MetricHelp.header("tugboat_requests_total", "Requests answered, by backend and status class.", type: "counter")
        for row in stats.rows {
            let backend = row.backend?.description ?? "none"
            for (index, count) in row.byClass.enumerated() where count > 0 || row.backend != nil {
                out += "tugboat_requests_total{backend=\"\(backend)\",code=\"\(index + 1)xx\"} \(count)\n"
            }
        }
        out += MetricHelp.header("tugboat_request_duration_seconds", "Time from request head to response end.", type: "histogram")
        for row in stats.rows where row.latencyCount > 0 {
            let backend = row.backend?.description ?? "none"
            for bucket in row.latencyBuckets {
                out += "tugboat_request_duration_seconds_bucket{backend=\"\(backend)\",le=\"\(bucket.le)\"} \(bucket.count)\n"
            }
            out += "tugboat_request_duration_seconds_bucket{backend=\"\(backend)\",le=\"+Inf\"} \(row.latencyCount)\n"
            out += "tugboat_request_duration_seconds_sum{backend=\"\(backend)\"} \(row.latencySumSeconds)\n"
            out += "tugboat_request_duration_seconds_count{backend=\"\(backend)\"} \(row.latencyCount)\n"
        }
        out += MetricHelp.header("tugboat_inflight_requests", "Requests being served right now.")
        for info in snapshot.backends {
            out += "tugboat_inflight_requests{backend=\"\(info.address)\"} \(inflight[info.address] ?? 0)\n"
        }
        out += MetricHelp.header("tugboat_backend_up", "Whether the backend receives traffic (1) or not (0).")
        for info in snapshot.backends {
            out += "tugboat_backend_up{backend=\"\(info.address)\"} \(info.state.receivesTraffic ? 1 : 0)\n"
        }
        // One series per state, 1 for the current one: a state change moves a value, not a label.
        out += MetricHelp.header("tugboat_backend_state", "The backend's state: 1 for the state it is in, 0 for the others.")
        for info in snapshot.backends {
            for state in BackendState.allCases {
                out += "tugboat_backend_state{backend=\"\(info.address)\",state=\"\(state.rawValue)\"} \(info.state == state ? 1 : 0)\n"
            }
        }
        out += MetricHelp.header("tugboat_build_info", "The running binary's version and commit.")
        out += "tugboat_build_info{version=\"\(BuildInfo.version)\",commit=\"\(BuildInfo.commit)\"} 1\n"
        return out
    }
}
