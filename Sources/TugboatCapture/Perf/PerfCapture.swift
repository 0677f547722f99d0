import FlameGraph
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One instance's perf samples: from the host's shared system-wide recorder, picked out by
/// `perf script --pid` (``CaptureSettings/PerfScope/systemWide``, the default: one perf for every
/// instance on the host), or from a `perf record -p PID` of its own (``CaptureSettings/PerfScope/process``).
///
/// A shared recorder never stops for one instance: a watcher notices the instance's death within
/// half a second and closes the current file then, so the crash window ends at the death; the
/// first snapshot after the death is kept (perf goes on rotating the shared files away). With a
/// recorder of its own, perf writes its last file and exits when the target dies.
actor PerfCapture: InstanceCapture {
    private let settings: CaptureSettings
    private let pid: Int32
    private let recorder: PerfRecorder
    /// Whether the recorder is this instance's own (process scope): started and stopped here.
    private let ownsRecorder: Bool
    private let perf: String
    private let directory: String
    private let logger: Logger
    /// Collapsed files, by name (perf deletes files; their entries are dropped then).
    /// Each finished file's stacks (counts in nanoseconds of CPU) and its number of samples.
    private var collapsed: [String: (stacks: FoldedStacks, samples: Int)] = [:]
    /// perf script runs in progress, by file name.
    private var collapsing: [String: Task<Result<(stacks: FoldedStacks, samples: Int)?, CaptureError>, Never>] = [:]
    private var started = Date()
    /// perf script runs so far (their files are numbered).
    private var runs = 0
    /// A container's files, copied while it lives, for `perf script --symfs` (see ``ForeignSymbols``).
    private var symfs: String?
    /// Shared recorder: the watcher of the instance's death, and what it saw.
    private var deathWatch: Task<Void, Never>?
    /// When the file closed at the death was finished (the crash window's end).
    private var deathFileEnd: Date?
    /// The window before the death, once taken: later snapshots give it again.
    private var deathWindow: WindowProfile?

    init(settings: CaptureSettings, perf: String, pid: Int32, directory: String, sharedRecorder: PerfRecorder?, logger: Logger) {
        self.settings = settings
        self.perf = perf
        self.pid = pid
        self.directory = directory
        self.logger = logger
        if let sharedRecorder {
            recorder = sharedRecorder
            ownsRecorder = false
        } else {
            recorder = PerfRecorder(settings: settings, perf: perf, target: ["-p", String(pid)], directory: directory, logger: logger)
            ownsRecorder = true
        }
    }

    func start() async {
        started = Date()
        await recorder.start()
        if ForeignSymbols.isForeign(pid: pid) {
            let root = "\(directory)/symfs"
            let bytes = ForeignSymbols.mirror(pid: pid, into: root)
            symfs = root
            logger.debug("profiling: the container's files copied for symbols", metadata: ["capture.bytes": "\(bytes)"])
        }
        guard !ownsRecorder else { return }
        deathWatch = Task { [weak self, pid] in
            while !Task.isCancelled, ProcessProbe.isAlive(pid) {
                try? await Task.sleep(for: .milliseconds(500))
            }
            guard !Task.isCancelled else { return }
            await self?.closeFileAtDeath()
        }
    }

    private func closeFileAtDeath() async {
        guard deathFileEnd == nil, await recorder.closeCurrentFile() else { return }
        deathFileEnd = await recorder.files.last?.finished
    }

    func snapshot() async throws(CaptureError) -> WindowProfile {
        if let deathWindow { return deathWindow }
        if let error = await recorder.startError { throw .toolFailed(error) }
        var notes: [String] = []
        let requested = Date()
        var exited = !ProcessProbe.isAlive(pid)
        if ownsRecorder, await recorder.isRunning, exited {
            // The target died: perf notices, writes its last file and exits.
            if await !recorder.waitForExit(timeout: settings.finishTimeout) {
                notes.append("perf did not exit within \(settings.finishTimeout) of the instance's death; stopped with SIGINT")
                await recorder.stop()
            }
        } else if exited {
            await closeFileAtDeath()
        } else if await recorder.isRunning, await !recorder.closeCurrentFile(), await recorder.isRunning {
            notes.append("perf was still starting; the current slice is not included")
        }
        let running = await recorder.isRunning
        if ownsRecorder, !running {
            exited = exited || !ProcessProbe.isAlive(pid)
            if case .exited(let code) = await recorder.exit, code != 0 {
                notes.append("perf record ended with exit status \(code): \(ToolLog.tail(of: await recorder.recordLog))")
            }
        }
        let files = await recorder.files
        let end: Date
        if let deathFileEnd {
            end = deathFileEnd
        } else if exited || !running {
            end = files.last?.finished ?? requested
        } else {
            end = max(requested, files.last?.finished ?? requested)
        }
        let covering = RollingFiles.covering(
            files.filter { $0.finished <= end }, end: end, window: settings.window, slice: PerfRecorder.rotation(settings))
        guard !covering.isEmpty else {
            let why = running ? "perf has written no file yet" : await recorder.endedText
            throw .noProfile("profiling: no perf samples for pid \(pid): \(why)")
        }
        // The window's first instant on the samples' clock (CLOCK_MONOTONIC); the files before
        // it are cut there, the others taken whole.
        let start = max(end.addingTimeInterval(-settings.window.seconds), started)
        let monotonicStart = Self.monotonicNow() - Date().timeIntervalSince(start)
        var stacks = FoldedStacks()
        var samples = 0
        var vanished = 0
        for (file, fileStart) in covering {
            guard let slice = try await collapse(file, from: fileStart < start ? monotonicStart : nil) else {
                vanished += 1
                continue
            }
            stacks.merge(slice.stacks)
            samples += slice.samples
        }
        if vanished > 0 { notes.append("\(vanished) of \(covering.count) perf files were deleted before they were read") }
        let names = Set(files.map(\.name))
        collapsed = collapsed.filter { names.contains($0.key) }
        let window = WindowProfile(stacks: stacks.scaled(by: 1e-6), start: start, end: end, instanceExited: exited,
                                   sampleCount: samples, countName: "ms of CPU", notes: notes)
        if exited, !ownsRecorder { deathWindow = window }
        return window
    }

    /// Seconds on CLOCK_MONOTONIC, the clock perf stamps samples with (`-k CLOCK_MONOTONIC`).
    static func monotonicNow() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// `perf script -i FILE`, collapsed: the samples from `from` (monotonic seconds) on, or the
    /// whole file (cached: a finished file does not change); nil when the file was deleted (by
    /// age) before it could be read.
    private func collapse(_ file: FinishedFile, from: Double?) async throws(CaptureError) -> (stacks: FoldedStacks, samples: Int)? {
        if let from { return try await runPerfScript(file, from: from) }
        if let done = collapsed[file.name] { return done }
        // Two snapshots at once (an exit and the unhealthy state it causes) wait for one run of
        // perf script on the file: two would share its output file and unlink it under each other.
        if let running = collapsing[file.name] { return try await running.value.get() }
        let run = Task { () -> Result<(stacks: FoldedStacks, samples: Int)?, CaptureError> in
            do throws(CaptureError) {
                let done = try await self.runPerfScript(file, from: nil)
                self.remember(file, done)
                return .success(done)
            } catch { return .failure(error) }
        }
        collapsing[file.name] = run
        let result = await run.value
        collapsing[file.name] = nil
        return try result.get()
    }

    private func remember(_ file: FinishedFile, _ done: (stacks: FoldedStacks, samples: Int)?) {
        if let done { collapsed[file.name] = done }
    }

    private func runPerfScript(_ file: FinishedFile, from: Double?) async throws(CaptureError) -> (stacks: FoldedStacks, samples: Int)? {
        // Not named `perf.data.…`: the rolling-file listing must never take them for perf files.
        // Numbered: two snapshots at once may both cut the same file.
        runs += 1
        let script = "\(directory)/script.\(runs).\(file.name)"
        let errors = "\(directory)/errors.\(runs).\(file.name)"
        // A link of our own, so the recorder's deleting old files cannot pull it away mid-read.
        let held = "\(directory)/held.\(runs).\(file.name)"
        guard link(file.path, held) == 0 else { return nil }
        defer {
            unlink(held)
            unlink(script)
            unlink(errors)
        }
        let filter = (ownsRecorder ? [] : ["--pid", String(pid)]) + (symfs.map { ["--symfs", $0] } ?? [])
            + (from.map { ["--time", String(format: "%.6f,", $0)] } ?? [])
        let child = try ChildProcess([perf, "script", "-i", held] + filter, stdout: script, stderr: errors)
        if await !child.waitForExit(timeout: .seconds(120)) {
            await child.stop(grace: .seconds(1))
            throw .toolFailed("profiling: perf script -i \(file.name) took more than 2 minutes")
        }
        guard child.exit == .exited(0) else {
            throw .toolFailed("profiling: perf script -i \(file.name) failed (\(child.exit!)): \(ToolLog.tail(of: errors))")
        }
        do {
            // Swift frames read as source (`DemoAppHandler.burnCPU(milliseconds:)`), not mangled.
            let collapser = try PerfCollapser.collapse(.file(script), threads: 1)
            return (stacks: collapser.stacks.demanglingSwiftFrames(), samples: collapser.sampleCount)
        } catch {
            throw .toolFailed("profiling: cannot collapse perf script output of \(file.name): \(error)")
        }
    }

    func stop() async {
        deathWatch?.cancel()
        deathWatch = nil
        if ownsRecorder { await recorder.stop() }
        collapsed = [:]
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
