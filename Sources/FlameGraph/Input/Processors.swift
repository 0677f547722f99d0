#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads a parallel step (collapsing, drawing) should use.
enum Processors {
    /// The online processors, at least 1 and at most 8.
    static var online: Int {
        max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    /// The processors free right now: online processors less the other runnable tasks (from
    /// Linux's /proc/loadavg), at least 1 and at most 8.
    static var free: Int {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return max(1, min(8, cores - otherRunnableTasks()))
    }

    /// Runnable tasks of other processes: /proc/loadavg's count ("4/321": 4 running) less this
    /// process's own running threads (the thread asking, and any the runtime has busy); 0 when unknown.
    private static func otherRunnableTasks() -> Int {
        guard let running = firstLine("/proc/loadavg")?.split(separator: " ").dropFirst(3).first?.split(separator: "/").first,
              let n = Int(running) else { return 0 }
        return max(0, n - max(1, ownRunningThreads()))
    }

    /// Threads of this process in state R (from /proc/self/task/*/stat: the field after the name).
    private static func ownRunningThreads() -> Int {
        guard let directory = opendir("/proc/self/task") else { return 1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.first?.isNumber == true, let stat = firstLine("/proc/self/task/\(name)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            if stat[close...].dropFirst(2).first == "R" { count += 1 }
        }
        return count
    }

    private static func firstLine(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, 512, file) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
