import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `perf record` writing rolling files into a directory: `-a` shared by every instance on the
/// host (system-wide scope; each instance's samples are picked out by `perf script --pid`), or
/// `-p PID` for one instance (process scope).
///
/// perf runs with `--switch-output=signal` and this actor sends it SIGUSR2 once per window, so a
/// snapshot of a live instance can also close the current file at once (with a time-based
/// `--switch-output=5s`, perf ignores SIGUSR2, and the last seconds would wait for the next
/// switch). A snapshot cuts the exact window out of the files by the samples' time (`-k
/// CLOCK_MONOTONIC`, `perf script --time`), so files can be a window long: each switch costs perf
/// about 60 ms of CPU here (it reads all of /proc/kallsyms again for the new file), which at one
/// switch per 5 s was 1.3 % of a core. Files finished more than two windows ago are deleted at
/// each switch: by age, not by count (perf's `--switch-max-files`), because every snapshot of every
/// instance closes a file too. The files stay symbolised (unlike `--overwrite`, whose
/// flight-recorder mode loses the symbols when perf ends).
actor PerfRecorder {
    static let filePrefix = "perf.data."

    let directory: String
    private let perf: String
    private let settings: CaptureSettings
    private let target: [String]
    private let logger: Logger
    private var child: ChildProcess?
    private var rotation: Task<Void, Never>?
    /// Why perf did not start.
    private(set) var startError: String?

    /// - Parameter target: `["-a"]` or `["-p", PID]`.
    init(settings: CaptureSettings, perf: String, target: [String], directory: String, logger: Logger) {
        self.settings = settings
        self.perf = perf
        self.target = target
        self.directory = directory
        self.logger = logger
    }

    var recordLog: String { "\(directory)/record.log" }

    /// Spawns perf; later calls do nothing (every instance sharing the recorder starts it).
    func start() {
        guard child == nil, startError == nil else { return }
        let argv = [
            // cpu-clock everywhere (not `cycles` where hardware counters exist): each sample's
            // period is then nanoseconds of CPU, shown as milliseconds.
            // -B -N: no build-ids and no build-id cache. By default perf copies every binary
            // it sampled into ~/.debug at each file switch (1.8 GB after a few days of captures
            // here, the 200 MB tugboat binary once per build); perf script reads the binaries
            // where they are (a container's through --symfs).
            perf, "record", "-e", "cpu-clock", "-F", String(settings.rate), "-g", "-B", "-N",
            "-k", "CLOCK_MONOTONIC", "--switch-output=signal",
            "-o", "\(directory)/perf.data",
        ] + target
        do {
            child = try ChildProcess(argv, stdout: "\(directory)/record.out", stderr: recordLog)
        } catch {
            startError = error.description
            logger.warning("profiling: cannot start perf", metadata: ["capture.error": "\(error)"])
            return
        }
        let period = Self.rotation(settings)
        rotation = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                guard let self, await self.switchOutput() != nil else { return }
                await self.deleteOldFiles()
            }
        }
    }

    /// How often the current file is closed: once per window (at least a second).
    static func rotation(_ settings: CaptureSettings) -> Duration { max(.seconds(1), settings.window) }

    /// Deletes the files finished more than two windows (and a rotation) ago.
    private func deleteOldFiles() {
        let keptSince = Date().addingTimeInterval(-(settings.window * 2 + Self.rotation(settings)).seconds)
        for file in files where file.finished < keptSince { unlink(file.path) }
    }

    var isRunning: Bool { child.map { !$0.hasExited } ?? false }
    var exit: ChildProcess.Exit? { child?.exit }

    /// The finished files, oldest first.
    var files: [FinishedFile] { RollingFiles.list(directory, prefix: Self.filePrefix) }

    /// SIGUSR2 once perf has its handler (before, SIGUSR2 would kill it): true when sent, false
    /// while perf is starting, nil once perf has gone.
    private func switchOutput() -> Bool? {
        guard let child, !child.hasExited else { return nil }
        guard ProcessProbe.catches(child.pid, signal: SIGUSR2) else { return false }
        child.signal(SIGUSR2)
        return true
    }

    /// Closes the current file now and waits (at most 3 s) for it to appear: false when perf was
    /// still starting or has gone (the current slice is then not in the files).
    func closeCurrentFile() async -> Bool {
        let before = Set(files.map(\.name))
        guard switchOutput() == true, let child else { return false }
        let directory = self.directory
        return (try? await waitFor(timeout: .seconds(3)) {
            child.hasExited || RollingFiles.list(directory, prefix: Self.filePrefix).contains { !before.contains($0.name) }
        }) != nil && !child.hasExited
    }

    /// Waits for perf to exit by itself (process scope: after its target died).
    func waitForExit(timeout: Duration) async -> Bool {
        guard let child else { return true }
        return await child.waitForExit(timeout: timeout)
    }

    /// Stops perf (SIGINT: it writes its last file; SIGKILL after `finishTimeout`).
    func stop() async {
        rotation?.cancel()
        rotation = nil
        if let child, !child.hasExited {
            await child.stop(grace: settings.finishTimeout)
        }
    }

    /// Why perf record ended, with the last lines of its log.
    var endedText: String {
        "perf record ended (\(exit.map(String.init(describing:)) ?? "?")): \(ToolLog.tail(of: recordLog))"
    }
}
