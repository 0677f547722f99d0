import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Finds the profilers on PATH and says, in one line, why a source cannot work here.
enum ToolLocator {
    /// The executable `name` in one of PATH's directories, or nil.
    static func find(_ name: String, path: String?) -> String? {
        for directory in (path ?? "").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0, !isDirectory(candidate) { return candidate }
        }
        return nil
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// The tool a source runs, or nil for sources that need none.
    static func toolName(for source: CaptureSettings.Source) -> String? {
        switch source {
        case .perf: "perf"
        case .pySpy: "py-spy"
        case .pprofURL, .push: nil
        }
    }

    /// The tool's path (explicit, else on PATH), or the warning text saying what is missing.
    static func resolve(
        _ source: CaptureSettings.Source, perfScope: CaptureSettings.PerfScope = .systemWide,
        toolPaths: [String: String], environment: [String: String]
    ) -> Result<String?, CaptureError> {
        guard let name = toolName(for: source) else { return .success(nil) }
        if let explicit = toolPaths[name] {
            guard access(explicit, X_OK) == 0 else {
                return .failure(.unavailable("profiling: \(name) is not executable at \(explicit) — crash flame graphs are off"))
            }
            return .success(explicit)
        }
        guard let found = find(name, path: environment["PATH"]) else {
            let install = source == .perf ? "install linux-perf (perf)" : "install it with pip install py-spy"
            return .failure(.unavailable("profiling: \(name) not found on PATH; \(install) — crash flame graphs are off"))
        }
        let limit = perfScope == .systemWide ? 0 : 1
        if source == .perf, geteuid() != 0, let paranoid = perfEventParanoid(), paranoid > limit {
            return .failure(.unavailable(
                "profiling: perf cannot sample \(perfScope == .systemWide ? "all CPUs" : "other processes") as a non-root user with "
                + "kernel.perf_event_paranoid=\(paranoid); run as root, grant CAP_PERFMON, or set it to \(limit) or less — crash flame graphs are off"))
        }
        return .success(found)
    }

    private static func perfEventParanoid() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Process liveness, as seen from /proc.
enum ProcessProbe {
    /// Whether `pid` runs and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// Whether `pid` has a handler installed for `signal` (SigCgt in /proc/PID/status).
    static func catches(_ pid: Int32, signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }
}
