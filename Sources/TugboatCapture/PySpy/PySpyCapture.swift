import FlameGraph
import Foundation
import TugboatCore
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Chained `py-spy record --format raw` runs of one slice each on one pid.
///
/// py-spy has no ring buffer: each run samples for a slice, writes its folded file and exits, and
/// the next run starts (a gap of py-spy's start-up, a few ms; ~0.7 s through a pyenv shim). The
/// last `slicesKept` files are kept. A snapshot of a live instance stops the run in progress with
/// SIGINT (py-spy writes its file then; on SIGTERM it would not) and the chain goes on; when the
/// target dies, py-spy writes its file and exits by itself, and the chain ends.
actor PySpyCapture: InstanceCapture {
    private struct Run {
        var number: Int
        var child: ChildProcess
        var output: String
        var started: Date
    }

    private struct FinishedRun {
        var number: Int
        var output: String
        var start: Date
        var end: Date
    }

    private let settings: CaptureSettings
    private let pySpy: String
    private let pid: Int32
    private let directory: String
    private let logger: Logger
    private var current: Run?
    private var finished: [FinishedRun] = []
    private var handled: Set<Int> = []
    private var nextNumber = 0
    private var chain: Task<Void, Never>?
    private var lastError: String?
    private var targetExited = false
    private var stopping = false

    init(settings: CaptureSettings, pySpy: String, pid: Int32, directory: String, logger: Logger) {
        self.settings = settings
        self.pySpy = pySpy
        self.pid = pid
        self.directory = directory
        self.logger = logger
    }

    func start() async {
        chain = Task { [weak self] in
            while !Task.isCancelled {
                guard let self, let run = await self.startRun() else { return }
                await run.child.waitForExit()
                guard await self.finish(run) else { return }
                if await self.failing {
                    // py-spy refused (permissions, not Python): try again a slice later, not in a loop.
                    try? await Task.sleep(for: self.settings.effectiveSlice)
                }
            }
        }
    }

    /// Starts the next run, or nil when the chain is over.
    private func startRun() async -> Run? {
        guard !stopping, !targetExited else { return nil }
        let number = nextNumber
        nextNumber += 1
        let output = "\(directory)/py-spy.\(number).txt"
        let seconds = max(1, Int(settings.effectiveSlice.seconds.rounded()))
        let argv = [
            pySpy, "record", "--format", "raw", "--nonblocking", "-r", String(settings.rate),
            "-d", String(seconds), "-p", String(pid), "-o", output,
        ]
        do {
            let child = try ChildProcess(argv, stdout: "\(directory)/py-spy.log", stderr: "\(directory)/py-spy.err")
            let run = Run(number: number, child: child, output: output, started: Date())
            current = run
            return run
        } catch {
            lastError = error.description
            logger.warning("profiling: cannot start py-spy", metadata: ["capture.error": "\(error)"])
            return nil
        }
    }

    private var failing: Bool { lastError != nil }

    /// Records a run that ended (once, whoever sees it first); false when the chain should stop.
    @discardableResult
    private func finish(_ run: Run) -> Bool {
        if !handled.contains(run.number) {
            handled.insert(run.number)
            if current?.number == run.number { current = nil }
            let end = Date()
            if FileManager.default.fileExists(atPath: run.output) {
                finished.append(FinishedRun(number: run.number, output: run.output, start: run.started, end: end))
                lastError = nil
            } else {
                let message = ToolLog.tail(of: "\(directory)/py-spy.err")
                lastError = "py-spy ended (\(run.child.exit.map(String.init(describing:)) ?? "?")) without a profile: \(message)"
            }
            if !ProcessProbe.isAlive(pid) { targetExited = true }
            while finished.count > settings.slicesKept {
                unlink(finished.removeFirst().output)
            }
        }
        return !stopping && !targetExited && !Task.isCancelled
    }

    func snapshot() async throws(CaptureError) -> WindowProfile {
        var notes: [String] = []
        if let run = current, !run.child.hasExited {
            if ProcessProbe.isAlive(pid) {
                run.child.signal(SIGINT)
                if await !run.child.waitForExit(timeout: settings.finishTimeout) {
                    notes.append("py-spy did not stop within \(settings.finishTimeout) of SIGINT; the current slice is missing")
                    await run.child.stop(signal: SIGKILL, grace: .seconds(1))
                }
            } else if await !run.child.waitForExit(timeout: settings.finishTimeout) {
                // It writes its file when the target dies, but give it SIGINT if it has not noticed.
                await run.child.stop(grace: settings.finishTimeout)
            }
            finish(run)
        }
        let exited = targetExited || !ProcessProbe.isAlive(pid)
        let end = exited ? (finished.last?.end ?? Date()) : Date()
        let from = end.addingTimeInterval(-settings.window.seconds)
        let runs = finished.filter { $0.end > from }
        guard !runs.isEmpty else {
            throw .noProfile("profiling: no py-spy samples for pid \(pid)\(lastError.map { ": \($0)" } ?? "")")
        }
        var stacks = FoldedStacks()
        var invalid = 0
        for run in runs {
            do {
                let reader = try FoldedReader.read(.file(run.output))
                invalid += reader.invalidLines
                stacks.merge(reader.stacks)
            } catch {
                notes.append("cannot read \(run.output): \(error)")
            }
        }
        if invalid > 0 { notes.append("\(invalid) py-spy lines could not be parsed") }
        return WindowProfile(stacks: stacks, start: runs[0].start, end: end, instanceExited: exited, sampleCount: nil, notes: notes)
    }

    func stop() async {
        stopping = true
        chain?.cancel()
        chain = nil
        if let run = current {
            await run.child.stop(grace: settings.finishTimeout)
            current = nil
        }
    }
}
