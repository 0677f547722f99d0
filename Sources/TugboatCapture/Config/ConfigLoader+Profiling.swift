import TugboatCore

// Parsing of `profiling:`.
extension ConfigLoader {
    package static func parseProfiling(_ value: YAMLValue) throws -> ProfilingSettings {
        let keys = try value.mapping(allowed: ["source", "rate", "window", "error-burst", "max-body", "max-decompressed", "link-expiry", "push-token"])
        guard let sourceValue = keys["source"] else {
            throw value.error("'profiling.source' is required (perf, py-spy, pprof-url or push)")
        }
        let name = try sourceValue.string()
        guard let source = ProfilingSettings.Source(rawValue: name) else {
            throw sourceValue.error("'profiling.source' must be perf, py-spy, pprof-url or push, got '\(name)'")
        }
        var profiling = ProfilingSettings(source: source)
        if let rate = keys["rate"] { profiling.rate = try rate.int(range: 1...1000) }
        if let window = keys["window"] {
            profiling.window = try window.duration()
            guard profiling.window >= .seconds(1), profiling.window <= .seconds(600) else {
                throw window.error("'profiling.window' must be between 1s and 10m")
            }
        }
        if let burst = keys["error-burst"] { profiling.errorBurst = try burst.int(range: 1...1_000_000) }
        if let expiry = keys["link-expiry"] { profiling.linkExpiry = try expiry.duration(allowZero: true) }
        if let body = keys["max-body"] { profiling.maxBody = try body.byteCount(range: 1024...(1 << 30)) }
        if let inflated = keys["max-decompressed"] { profiling.maxDecompressed = try inflated.byteCount(range: 1024...(4 << 30)) }
        if let token = keys["push-token"] {
            let text = try token.string()
            profiling.pushToken = text.isEmpty ? nil : Secret(text)
        }
        return profiling
    }
}
