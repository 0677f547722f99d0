import FlameGraph
import Foundation
import TugboatCore

/// How instances are profiled: the `profiling:` section (`source`, `rate`, `window`) plus the
/// knobs the daemon sets itself.
package struct CaptureSettings: Sendable, Equatable {
    /// What `perf record` samples.
    package enum PerfScope: String, Sendable, Codable {
        /// `perf record -a`, filtered to the instance's pid by `perf script --pid`: every CPU is
        /// sampled (one sample per CPU per tick, idle included), but perf stays idle when the
        /// target's threads come and go. The watcher stops perf within half a second of the
        /// target's death, so the last file ends at the death.
        case systemWide = "system-wide"
        /// `perf record -p PID`: only the instance. perf exits by itself when the target dies.
        /// perf 6.1 spins at 100 % of a core as soon as one of the target's threads has exited
        /// (measured with the demo app, whose worker threads come and go), so this is not the default.
        case process
    }

    /// Where stack samples come from.
    package enum Source: String, Sendable, CaseIterable, Codable {
        /// `perf record` on the instance's pid (native code), in rolling files.
        case perf
        /// Chained `py-spy record` runs on the instance's pid (Python).
        case pySpy = "py-spy"
        /// `GET /debug/pprof/profile?seconds=N` on the instance (Go's net/http/pprof and alike).
        case pprofURL = "pprof-url"
        /// The application posts folded stacks or pprof profiles itself.
        case push
    }

    /// The source (config `source`).
    package var source: Source
    /// Sampling frequency in Hz (config `rate`; perf `-F`, py-spy `-r`).
    package var rate: Int
    /// How much of the recent past a snapshot covers (config `window`).
    package var window: Duration
    /// Length of one py-spy run; a py-spy snapshot covers the window rounded up to whole slices.
    /// At most the window. (perf's files are a window long and cut by time: see `PerfRecorder`.)
    package var slice: Duration
    /// Where the per-instance directories go: created 0700 when missing, made 0700 when it exists
    /// (it must be a directory of this user's, not a symbolic link). Nil (the default): a fresh
    /// private directory under `$TMPDIR` (mkdtemp), removed at shutdown. Each instance's
    /// directory (0700) is removed on detach.
    package var directory: String?
    /// perf: system-wide (the default) or per process; see ``PerfScope``.
    package var perfScope: PerfScope
    /// pprof-url: fetch a profile of `window` back to back and keep the last complete one, so that
    /// a crash still has a graph (of the window before the last fetch ended). Go refuses a second
    /// CPU profile while one runs, so this occupies the instance's profiler; when false, a snapshot
    /// fetches on demand, and a dead instance has nothing.
    package var pprofRolling: Bool
    /// pprof-url: the path fetched (with `?seconds=N`).
    package var pprofPath: String
    /// Explicit tool paths (`perf`, `py-spy`); by default they are looked up on PATH.
    package var toolPaths: [String: String]
    /// How long a snapshot waits for a profiler to finish its last file (perf after the target
    /// died; py-spy when stopped) before stopping it harder.
    package var finishTimeout: Duration
    /// The largest profile taken as received (a push, a pprof-url fetch; config `max-body`).
    package var maximumBodySize: Int
    /// The most a gzipped profile may inflate to (config `max-decompressed`).
    package var maximumDecompressedSize: Int

    package init(
        source: Source, rate: Int = 99, window: Duration = .seconds(15), slice: Duration = .seconds(5),
        directory: String? = nil,
        perfScope: PerfScope = .systemWide,
        pprofRolling: Bool = true, pprofPath: String = "/debug/pprof/profile",
        toolPaths: [String: String] = [:], finishTimeout: Duration = .seconds(5),
        maximumBodySize: Int = 16 << 20, maximumDecompressedSize: Int = PprofCollapser.defaultMaximumDecompressedSize
    ) {
        self.source = source
        self.rate = rate
        self.window = window
        self.slice = slice
        self.directory = directory
        self.perfScope = perfScope
        self.pprofRolling = pprofRolling
        self.pprofPath = pprofPath
        self.toolPaths = toolPaths
        self.finishTimeout = finishTimeout
        self.maximumBodySize = maximumBodySize
        self.maximumDecompressedSize = maximumDecompressedSize
    }

    /// The slice actually used: at least one second, at most the window.
    var effectiveSlice: Duration {
        max(.seconds(1), min(slice, window))
    }

    /// How many slices cover the window, plus one (the slice in progress when it starts).
    var slicesKept: Int {
        Int((window.seconds / effectiveSlice.seconds).rounded(.up)) + 1
    }
}
