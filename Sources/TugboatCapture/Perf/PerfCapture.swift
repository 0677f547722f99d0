import FlameGraph
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `perf record` for one pid in rolling files (system-wide and filtered, or `-p PID`: see
/// ``CaptureSettings/PerfScope``).
///
/// perf runs with `--switch-output=signal` and this actor sends it SIGUSR2 every slice, so a
/// snapshot of a live instance can also close the current file at once (with a time-based
/// `--switch-output=5s`, perf ignores SIGUSR2, and the last seconds would wait for the next
/// switch). `--switch-max-files` keeps the window plus two slices on disk; perf deletes older
/// files itself. When the target dies, perf writes its last file and exits (by itself with `-p`;
/// stopped with SIGINT by the half-second watcher when system-wide); the files stay symbolised
/// (unlike `--overwrite`, whose flight-recorder mode loses the symbols then).
actor PerfCapture: InstanceCapture {
    private let settings: CaptureSettings
    private let perf: String
    private let pid: Int32
    private let directory: String
    private let logger: Logger
    private var recorder: ChildProcess?
    private var startError: String?
    private var rotation: Task<Void, Never>?
    /// Collapsed files, by name (perf deletes files; their entries are dropped then).
    /// Each finished file's stacks (counts in nanoseconds of CPU) and its number of samples.
    private var collapsed: [String: (stacks: FoldedStacks, samples: Int)] = [:]
    /// perf script runs in progress, by file name.
    private var collapsing: [String: Task<Result<(stacks: FoldedStacks, samples: Int), CaptureError>, Never>] = [:]
    private var started = Date()
    /// A container's files, copied while it lives, for `perf script --symfs` (see ``ForeignSymbols``).
    private var symfs: String?

    static let filePrefix = "perf.data."

    init(settings: CaptureSettings, perf: String, pid: Int32, directory: String, logger: Logger) {
        self.settings = settings
        self.perf = perf
        self.pid = pid
        self.directory = directory
        self.logger = logger
    }

    private var recordLog: String { "\(directory)/record.log" }

    func start() async {
        started = Date()
        let target = settings.perfScope == .process ? ["-p", String(pid)] : ["-a"]
        let argv = [
            // cpu-clock everywhere (not `cycles` where hardware counters exist): each sample's
            // period is then nanoseconds of CPU, shown as milliseconds.
            perf, "record", "-e", "cpu-clock", "-F", String(settings.rate), "-g",
            "--switch-output=signal", "--switch-max-files=\(settings.slicesKept + 1)",
            "-o", "\(directory)/perf.data",
        ] + target
        do {
            recorder = try ChildProcess(argv, stdout: "\(directory)/record.out", stderr: recordLog)
        } catch {
            startError = error.description
            logger.warning("profiling: cannot start perf", metadata: ["capture.error": "\(error)"])
            return
        }
        if ForeignSymbols.isForeign(pid: pid) {
            let root = "\(directory)/symfs"
            let bytes = ForeignSymbols.mirror(pid: pid, into: root)
            symfs = root
            logger.debug("profiling: the container's files copied for symbols", metadata: ["capture.bytes": "\(bytes)"])
        }
        let slice = settings.effectiveSlice
        rotation = Task { [weak self] in
            var lastSwitch = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                guard let self else { return }
                let due = ContinuousClock.now - lastSwitch >= slice
                if due { lastSwitch = ContinuousClock.now }
                guard await self.tick(switching: due) else { return }
            }
        }
    }

    /// Every half second: closes the current file when `switching`; stops a system-wide perf
    /// once the target is dead (its last file then ends at the death). False once perf has gone.
    private func tick(switching: Bool) async -> Bool {
        guard let recorder, !recorder.hasExited else { return false }
        if settings.perfScope == .systemWide, !ProcessProbe.isAlive(pid) {
            await recorder.stop(grace: settings.finishTimeout)
            return false
        }
        if switching { switchOutput(recorder) }
        return true
    }

    /// SIGUSR2 only once perf has its handler (before, SIGUSR2 would kill it).
    @discardableResult
    private func switchOutput(_ recorder: ChildProcess) -> Bool {
        guard ProcessProbe.catches(recorder.pid, signal: SIGUSR2) else { return false }
        recorder.signal(SIGUSR2)
        return true
    }

    func snapshot() async throws(CaptureError) -> WindowProfile {
        guard let recorder else {
            throw .toolFailed(startError ?? "profiling: perf was not started")
        }
        var notes: [String] = []
        let requested = Date()
        var exited = !ProcessProbe.isAlive(pid)
        if !recorder.hasExited {
            if exited, settings.perfScope == .systemWide {
                await recorder.stop(grace: settings.finishTimeout)
            } else if exited {
                // The target died: perf notices, writes its last file and exits.
                if await !recorder.waitForExit(timeout: settings.finishTimeout) {
                    notes.append("perf did not exit within \(settings.finishTimeout) of the instance's death; stopped with SIGINT")
                    await recorder.stop(grace: settings.finishTimeout)
                }
            } else {
                let before = Set(RollingFiles.list(directory, prefix: Self.filePrefix).map(\.name))
                if switchOutput(recorder) {
                    try? await waitFor(timeout: .seconds(3)) {
                        recorder.hasExited || RollingFiles.list(self.directory, prefix: Self.filePrefix).contains { !before.contains($0.name) }
                    }
                } else {
                    notes.append("perf was still starting; the current slice is not included")
                }
            }
        }
        if recorder.hasExited {
            exited = exited || !ProcessProbe.isAlive(pid)
            if case .exited(let code) = recorder.exit, code != 0 {
                notes.append("perf record ended with exit status \(code): \(Self.tail(of: recordLog))")
            }
        }
        let files = RollingFiles.list(directory, prefix: Self.filePrefix)
        let end = exited || recorder.hasExited ? (files.last?.finished ?? requested) : max(requested, files.last?.finished ?? requested)
        let covering = RollingFiles.covering(files, end: end, window: settings.window, slice: settings.effectiveSlice)
        guard !covering.isEmpty else {
            let why = recorder.hasExited ? "perf record ended (\(recorder.exit.map(String.init(describing:)) ?? "?")): \(Self.tail(of: recordLog))"
                : "perf has written no file yet"
            throw .noProfile("profiling: no perf samples for pid \(pid): \(why)")
        }
        var stacks = FoldedStacks()
        var samples = 0
        for (file, _) in covering {
            let slice = try await collapse(file)
            stacks.merge(slice.stacks)
            samples += slice.samples
        }
        let names = Set(files.map(\.name))
        collapsed = collapsed.filter { names.contains($0.key) }
        let start = max(covering[0].start, started)
        return WindowProfile(stacks: stacks.scaled(by: 1e-6), start: start, end: end, instanceExited: exited,
                             sampleCount: samples, countName: "ms of CPU", notes: notes)
    }

    /// `perf script -i FILE`, collapsed (cached: a finished file does not change).
    private func collapse(_ file: FinishedFile) async throws(CaptureError) -> (stacks: FoldedStacks, samples: Int) {
        if let done = collapsed[file.name] { return done }
        // Two snapshots at once (an exit and the unhealthy state it causes) wait for one run of
        // perf script on the file: two would share its output file and unlink it under each other.
        if let running = collapsing[file.name] { return try await running.value.get() }
        let run = Task { () -> Result<(stacks: FoldedStacks, samples: Int), CaptureError> in
            do throws(CaptureError) { return .success(try await self.runPerfScript(file)) } catch { return .failure(error) }
        }
        collapsing[file.name] = run
        let result = await run.value
        collapsing[file.name] = nil
        return try result.get()
    }

    private func runPerfScript(_ file: FinishedFile) async throws(CaptureError) -> (stacks: FoldedStacks, samples: Int) {
        // Not named `perf.data.…`: the rolling-file listing must never take them for perf files.
        let script = "\(directory)/script.\(file.name)"
        let errors = "\(directory)/errors.\(file.name)"
        defer {
            unlink(script)
            unlink(errors)
        }
        let filter = (settings.perfScope == .systemWide ? ["--pid", String(pid)] : []) + (symfs.map { ["--symfs", $0] } ?? [])
        let child = try ChildProcess([perf, "script", "-i", file.path] + filter, stdout: script, stderr: errors)
        if await !child.waitForExit(timeout: .seconds(120)) {
            await child.stop(grace: .seconds(1))
            throw .toolFailed("profiling: perf script -i \(file.name) took more than 2 minutes")
        }
        guard child.exit == .exited(0) else {
            throw .toolFailed("profiling: perf script -i \(file.name) failed (\(child.exit!)): \(Self.tail(of: errors))")
        }
        do {
            // Swift frames read as source (`DemoAppHandler.burnCPU(milliseconds:)`), not mangled.
            let collapser = try PerfCollapser.collapse(.file(script), threads: 1)
            let done = (stacks: collapser.stacks.demanglingSwiftFrames(), samples: collapser.sampleCount)
            collapsed[file.name] = done
            return done
        } catch {
            throw .toolFailed("profiling: cannot collapse perf script output of \(file.name): \(error)")
        }
    }

    func stop() async {
        rotation?.cancel()
        rotation = nil
        if let recorder, !recorder.hasExited {
            await recorder.stop(grace: settings.finishTimeout)
        }
        collapsed = [:]
    }

    /// The last line of a log, for error messages.
    static func tail(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("[ perf record:") }
        return lines.suffix(2).joined(separator: " / ").prefix(400).description
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes (then throws).
func waitFor(timeout: Duration, _ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw CaptureError.noProfile("timed out")
}
