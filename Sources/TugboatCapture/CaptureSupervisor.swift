import AsyncHTTPClient
import FlameGraph
import Foundation
import Logging
import TugboatCore

/// Keeps a rolling window of stack samples per backend instance and turns the last window into
/// folded stacks and a flame graph on demand (a crash, an unhealthy instance, an operator).
///
/// One capture per instance address, started by ``attach(address:pid:)`` and ended by
/// ``detach(address:)``; take the crash snapshot *before* detaching a dead instance (detach
/// removes its files). ``shutdown()`` detaches everything (no profiler is left running).
package actor CaptureSupervisor {
    private struct Attached {
        var pid: Int32?
        var capture: (any InstanceCapture)?
        var directory: String?
        /// Why nothing is captured (a missing tool, no pid).
        var problem: String?
    }

    /// The settings in effect.
    package let settings: CaptureSettings
    private let logger: Logger
    private let client: HTTPClient
    private let environment: [String: String]
    private let now: @Sendable () -> Date
    private var instances: [HostPort: Attached] = [:]
    /// The root of the per-instance directories, once made; whether it is ours to remove.
    private var root: (path: String, temporary: Bool)?
    /// perf, system-wide scope: the one recorder every attached instance reads, and how many do.
    private var sharedPerf: (recorder: PerfRecorder, users: Int)?

    /// - Parameters:
    ///   - httpClient: for `pprof-url` (the shared client by default).
    ///   - environment: where PATH is looked up (the process's by default).
    ///   - now: the clock for push windows (tests move it).
    package init(
        settings: CaptureSettings, logger: Logger, httpClient: HTTPClient = .shared,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.settings = settings
        self.logger = logger
        self.client = httpClient
        self.environment = environment
        self.now = now
    }

    /// Why `source` cannot work on this machine, as one line for the log (e.g. "profiling: perf
    /// not found on PATH; install linux-perf (perf) — crash flame graphs are off"), or nil.
    package static func availabilityProblem(
        for source: CaptureSettings.Source, perfScope: CaptureSettings.PerfScope = .systemWide,
        toolPaths: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        if case .failure(let error) = ToolLocator.resolve(source, perfScope: perfScope, toolPaths: toolPaths, environment: environment) {
            return error.description
        }
        return nil
    }

    /// The per-instance directories of the instances attached.
    package var captureDirectories: [String] { instances.values.compactMap(\.directory).sorted() }

    /// The instances attached.
    package var attached: [HostPort] { instances.keys.sorted() }

    /// Starts capturing `address` (its process `pid`, which perf and py-spy need). Attaching the
    /// same address again with another pid (a restart) replaces the capture. Never throws: when
    /// the source cannot work (tool missing, no pid) it logs a warning, returns the text, and
    /// snapshots of that instance fail with it.
    @discardableResult
    package func attach(address: HostPort, pid: Int32?) async -> String? {
        if let existing = instances[address] {
            if existing.pid == pid { return existing.problem }
            await detach(address: address)
        }
        let metadata: Logger.Metadata = ["backend.address": "\(address)", "capture.source": "\(settings.source.rawValue)"]
        let made = makeCapture(address: address, pid: pid)
        switch made {
        case .failure(let error):
            logger.warning("\(error.description)", metadata: metadata)
            instances[address] = Attached(pid: pid, problem: error.description)
            return error.description
        case .success(let (capture, directory)):
            instances[address] = Attached(pid: pid, capture: capture, directory: directory)
            await capture.start()
            logger.debug("profiling: attached", metadata: metadata)
            return nil
        }
    }

    private func makeCapture(address: HostPort, pid: Int32?) -> Result<(any InstanceCapture, String?), CaptureError> {
        let tool: String?
        switch ToolLocator.resolve(settings.source, perfScope: settings.perfScope, toolPaths: settings.toolPaths, environment: environment) {
        case .failure(let error): return .failure(error)
        case .success(let path): tool = path
        }
        switch settings.source {
        case .pprofURL:
            return .success((PprofURLCapture(settings: settings, address: address, client: client, logger: logger), nil))
        case .push:
            return .success((PushCapture(window: settings.window, maximumDecompressedSize: settings.maximumDecompressedSize, now: now), nil))
        case .perf, .pySpy:
            guard let pid, let tool else {
                return .failure(.unavailable("profiling: \(settings.source.rawValue) needs the process id of \(address), which is not known (not running, or not on this machine) — no crash flame graphs for it"))
            }
            let directory: String
            do {
                directory = try makeDirectory(address: address, pid: pid)
            } catch {
                return .failure(error)
            }
            if settings.source == .perf {
                let shared: PerfRecorder?
                do {
                    shared = settings.perfScope == .systemWide ? try sharedPerfRecorder(perf: tool) : nil
                } catch {
                    try? FileManager.default.removeItem(atPath: directory)
                    return .failure(error)
                }
                return .success((PerfCapture(settings: settings, perf: tool, pid: pid, directory: directory, sharedRecorder: shared, logger: logger), directory))
            }
            return .success((PySpyCapture(settings: settings, pySpy: tool, pid: pid, directory: directory, logger: logger), directory))
        }
    }

    /// The host's one system-wide perf, started for the first instance attached and stopped when
    /// the last one is detached (``releaseSharedPerf()``); one more user each call. Each user's
    /// ``PerfCapture/start()`` starts it (only the first start spawns perf).
    private func sharedPerfRecorder(perf: String) throws(CaptureError) -> PerfRecorder {
        if let shared = sharedPerf {
            sharedPerf = (shared.recorder, shared.users + 1)
            return shared.recorder
        }
        let directory = try CaptureFiles.makeSubdirectory("perf-all-\(UUID().uuidString.prefix(8))", in: try rootDirectory())
        let recorder = PerfRecorder(settings: settings, perf: perf, target: ["-a"], directory: directory, logger: logger)
        sharedPerf = (recorder, 1)
        return recorder
    }

    private func releaseSharedPerf() async {
        guard let shared = sharedPerf else { return }
        guard shared.users <= 1 else {
            sharedPerf = (shared.recorder, shared.users - 1)
            return
        }
        sharedPerf = nil
        await shared.recorder.stop()
        try? FileManager.default.removeItem(atPath: shared.recorder.directory)
    }

    private func makeDirectory(address: HostPort, pid: Int32) throws(CaptureError) -> String {
        let safeHost = address.host.map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "_" }
        let name = "\(String(safeHost))_\(address.port)-\(pid)-\(UUID().uuidString.prefix(8))"
        return try CaptureFiles.makeSubdirectory(name, in: try rootDirectory())
    }

    /// The configured directory, made private, or a temporary one of our own (made once).
    private func rootDirectory() throws(CaptureError) -> String {
        if let root { return root.path }
        if let configured = settings.directory {
            try CaptureFiles.preparePrivateDirectory(configured)
            root = (configured, false)
        } else {
            root = (try CaptureFiles.makeTemporaryDirectory(), true)
        }
        return root!.path
    }

    /// Stops capturing `address`: stops its profiler (SIGINT, then SIGKILL) and removes its files.
    package func detach(address: HostPort) async {
        guard let attached = instances.removeValue(forKey: address) else { return }
        await attached.capture?.stop()
        if attached.capture is PerfCapture, settings.perfScope == .systemWide { await releaseSharedPerf() }
        if let directory = attached.directory {
            try? FileManager.default.removeItem(atPath: directory)
        }
        logger.debug("profiling: detached", metadata: ["backend.address": "\(address)"])
    }

    /// Detaches every instance.
    package func shutdown() async {
        for address in Array(instances.keys) { await detach(address: address) }
        if let root, root.temporary {
            try? FileManager.default.removeItem(atPath: root.path)
            self.root = nil
        }
    }

    /// The last window of `address` as folded stacks and a flame graph titled with the instance
    /// and `reason`. While the instance lives: perf closes its current file, py-spy its current
    /// run (a few hundred ms), pprof-url gives the last rolling fetch, push merges the window.
    /// After it died: perf and py-spy wait (at most `finishTimeout`) for the profiler to write
    /// its last file and give the window before the death; pprof-url the last complete fetch.
    package func snapshot(address: HostPort, reason: String) async throws(CaptureError) -> CapturedProfile {
        guard let attached = instances[address] else { throw .notAttached("\(address)") }
        guard let capture = attached.capture else {
            throw .unavailable(attached.problem ?? "profiling: not capturing \(address)")
        }
        let window = try await capture.snapshot()
        var options = FlameGraphOptions()
        let pidText = attached.pid.map { " (pid \($0))" } ?? ""
        options.title = "\(address)\(pidText): \(reason)"
        let samples = window.sampleCount ?? Int(window.stacks.total)
        options.subtitle = Self.subtitle(source: settings.source, rate: settings.rate, window: window, samples: samples)
        options.countName = window.countName
        let svg = FlameGraphRenderer(options: options).render(window.stacks)
        return CapturedProfile(
            address: address, pid: attached.pid, reason: reason, source: settings.source,
            windowStart: window.start, windowEnd: window.end, instanceExited: window.instanceExited,
            stacks: window.stacks, sampleCount: samples, svg: svg, notes: window.notes)
    }

    /// What the graph shows: source (and sampling rate), the window, how many samples and what
    /// the widths count when that is not samples, and whether the instance had exited.
    static func subtitle(source: CaptureSettings.Source, rate: Int, window: WindowProfile, samples: Int) -> String {
        var text = source.rawValue
        if source == .perf || source == .pySpy { text += " at \(rate) Hz" }
        text += ", \(format(window.start)) – \(format(window.end)) UTC, \(samples) samples"
        if window.countName != "samples" { text += " (widths: \(Int(window.stacks.total.rounded())) \(window.countName))" }
        if window.instanceExited { text += ", instance exited" }
        return text
    }

    /// Takes a profile the application posted (`push` source): folded stacks text, or a pprof
    /// body (gzipped or not; `application/x-protobuf`, `application/octet-stream` or gzip bytes).
    package func push(address: HostPort, body: [UInt8], contentType: String?) async throws(CaptureError) {
        guard settings.source == .push else {
            throw .badPush("profiling: source is \(settings.source.rawValue), pushes are not taken")
        }
        guard let capture = instances[address]?.capture as? PushCapture else { throw .notAttached("\(address)") }
        try await capture.receive(body: body, contentType: contentType)
    }

    private static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }
}
