#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads a parallel step (collapsing, drawing) should use.
enum Processors {
    /// The processors free right now: online processors less the other runnable tasks (from
    /// Linux's /proc/loadavg), at least 1 and at most 8.
    static var free: Int {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return max(1, min(8, cores - otherRunnableTasks()))
    }

    /// Runnable tasks other than this one ("4/321" in /proc/loadavg counts this one too); 0 when unknown.
    private static func otherRunnableTasks() -> Int {
        guard let file = fopen("/proc/loadavg", "r") else { return 0 }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 128)
        guard fgets(&buffer, 128, file) != nil else { return 0 }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: " ")
        guard fields.count >= 4, let running = fields[3].split(separator: "/").first, let n = Int(running) else { return 0 }
        return max(0, n - 1)
    }
}
