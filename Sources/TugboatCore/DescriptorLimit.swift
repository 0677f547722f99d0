#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit (`RLIMIT_NOFILE`).
package enum DescriptorLimit {
    /// Raises the soft limit to the hard one (as HAProxy and nginx do at start) and returns it.
    @discardableResult
    package static func raiseToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    package static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }

    /// How many client connections fit: each may hold an upstream connection too, and a reserve
    /// stays free for health checks, the admin listener, the store, Redis and children's pipes,
    /// so a flood of clients can never make the health checks fail with EMFILE. At least 64: an
    /// idle proxy already holds 25–35 (each event loop's epoll, eventfd and timerfd, the store's
    /// files, signal descriptors), so 32 left a flood a few upstream connects short (EMFILE, 502).
    package static func maxConnections(descriptors: Int) -> Int {
        let reserve = min(256, max(64, descriptors / 8))
        return max(1, (descriptors - reserve) / 2)
    }
}
