import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TugboatAdmin
import TugboatCapture
import TugboatCore
import TugboatScaling
import TugboatStore

/// Crash forensics: keeps a rolling window of stack samples for every serving instance (through
/// `TugboatCapture`), and on a trigger turns the last window into folded stacks and a flame graph,
/// stored with the incident's target and time so the incident and its page link to it.
///
/// Triggers: an instance exits on its own (`.instanceExited`), an instance turns unhealthy, a
/// burst of 5xx from one instance (`profiling.error-burst` in one second), and on demand
/// (`POST /api/instances/{address}/profile`). Automatic captures of one instance are at most one
/// per `window`; an exit is always captured.
actor CrashForensics: Service, ProfileCapturing {
    private var settings: ProfilingSettings
    /// `profiling.max-body`, read by the admin API's push route off the actor (a reload may change it).
    private nonisolated let pushLimit: Atomic<Int>
    /// Replaced when a reload changes how instances are captured.
    private var supervisor: CaptureSupervisor
    private let store: Store
    private let signals: SignalBus
    private let logger: Logger
    private var lastCapture: [HostPort: ContinuousClock.Instant] = [:]
    private var pendingDetach: [HostPort: Int] = [:]
    /// Exits being captured: a replacement on the same address attaches only after (attaching
    /// replaces the capture and its files).
    private var capturingExit: Set<HostPort> = []
    private var generation = 0
    /// The scaling provider's knowledge of an instance's process (containers), asked first.
    private var providerProcess: (@Sendable (HostPort) async -> InstanceProcess)?
    /// The once-per-window limit, the waits, the captures' times (tests pass a manual one).
    private let clock: ServiceClock

    func locateProcesses(_ locate: @escaping @Sendable (HostPort) async -> InstanceProcess) {
        providerProcess = locate
    }

    init(settings: ProfilingSettings, store: Store, signals: SignalBus, logger: Logger, clock: ServiceClock = .continuous) {
        self.settings = settings
        self.clock = clock
        pushLimit = Atomic(settings.maxBody)
        self.supervisor = CaptureSupervisor(settings: Self.captureSettings(settings), logger: logger)
        self.store = store
        self.signals = signals
        self.logger = logger
    }

    /// A config reload changed `profiling`: `error-burst` applies to the next traffic sample; a
    /// new source, rate or window restarts every instance's capture with them (the rolling window
    /// starts afresh). An instance whose exit is being captured finishes on the old settings.
    func update(_ new: ProfilingSettings) async {
        let old = settings
        settings = new
        pushLimit.store(new.maxBody, ordering: .relaxed)
        guard Self.captureSettings(old) != Self.captureSettings(new) else { return }
        if let problem = Self.availabilityProblem(new) { logger.warning("\(problem)") }
        let previous = supervisor
        supervisor = CaptureSupervisor(settings: Self.captureSettings(new), logger: logger)
        for address in await previous.attached where !capturingExit.contains(address) {
            await previous.detach(address: address)
            await attach(address)
        }
        logger.info("profiling settings replaced", metadata: ["capture.source": "\(new.source.rawValue)"])
    }

    static func captureSettings(_ settings: ProfilingSettings) -> CaptureSettings {
        let source: CaptureSettings.Source = switch settings.source {
        case .perf: .perf
        case .pySpy: .pySpy
        case .pprofURL: .pprofURL
        case .push: .push
        }
        return CaptureSettings(source: source, rate: settings.rate, window: settings.window,
                               maximumBodySize: settings.maxBody, maximumDecompressedSize: settings.maxDecompressed)
    }

    /// The start-up warning when the capture tool is missing (nil when it is there).
    static func availabilityProblem(_ settings: ProfilingSettings) -> String? {
        CaptureSupervisor.availabilityProblem(for: captureSettings(settings).source)
    }

    func run() async throws {
        let stream = signals.subscribe()
        await withDiscardingTaskGroup { group in
            for await signal in stream.cancelOnGracefulShutdown() {
                for job in jobs(for: signal) { group.addTask { await job() } }
            }
            group.cancelAll()
        }
        await supervisor.shutdown()
    }

    /// What a signal asks for; slow work (captures, attaching) runs as child tasks.
    private func jobs(for signal: Signal) -> [@Sendable () async -> Void] {
        switch signal {
        case .backendStateChanged(let address, _, .healthy, _):
            pendingDetach[address] = nil
            return [{ await self.attach(address) }]
        case .backendStateChanged(let address, _, .unhealthy, let reason):
            guard claimAutomaticCapture(address) else { return [] }
            return [{ await self.captureAndStore(address, reason: "unhealthy: \(reason)") }]
        case .instanceExited(let address, let status):
            lastCapture[address] = clock.now
            capturingExit.insert(address)
            let supervisor = self.supervisor
            return [{
                await self.captureAndStore(address, reason: "exited on its own (\(status))", from: supervisor)
                await supervisor.detach(address: address)
                await self.exitCaptured(address)
            }]
        case .backendRemoved(let address):
            // Not at once: an exit's capture may still need the files; detach unless it comes back.
            generation += 1
            let ticket = generation
            pendingDetach[address] = ticket
            let grace = settings.window + .seconds(10)
            let clock = self.clock
            return [{
                try? await clock.sleep(for: grace)
                await self.detachIfStillRemoved(address, ticket: ticket)
            }]
        case .traffic(let sample):
            return sample.serverErrorsByBackend.compactMap { address, errors in
                guard errors >= UInt64(settings.errorBurst), claimAutomaticCapture(address) else { return nil }
                return { await self.captureAndStore(address, reason: "burst of \(errors) 5xx in one second") }
            }
        default:
            return []
        }
    }

    /// At most one automatic capture per instance per window.
    private func claimAutomaticCapture(_ address: HostPort) -> Bool {
        let now = clock.now
        if let last = lastCapture[address], now - last < settings.window { return false }
        lastCapture[address] = now
        return true
    }

    private func exitCaptured(_ address: HostPort) { capturingExit.remove(address) }

    private func attach(_ address: HostPort) async {
        let deadline = clock.now + settings.window + .seconds(15)
        while capturingExit.contains(address), clock.now < deadline {
            try? await clock.sleep(for: .milliseconds(100))
        }
        let pid: Int32?
        switch await providerProcess?(address) ?? .notMine {
        case .running(let found): pid = found
        case .notRunning: pid = nil
        case .notMine: pid = Self.isLocal(address) ? ListeningProcess.pid(port: address.port) : nil
        }
        await supervisor.attach(address: address, pid: pid)
    }

    private func detachIfStillRemoved(_ address: HostPort, ticket: Int) async {
        guard pendingDetach[address] == ticket else { return }
        pendingDetach[address] = nil
        await supervisor.detach(address: address)
    }

    private func captureAndStore(_ address: HostPort, reason: String, from supervisor: CaptureSupervisor? = nil) async {
        do {
            let profile = try await capture(address: address, reason: reason, from: supervisor ?? self.supervisor)
            logger.info("flame graph captured", metadata: [
                "backend.address": "\(address)", "profile.id": "\(profile.id ?? 0)", "profile.samples": "\(profile.samples)",
                "profile.reason": "\(reason)",
            ])
        } catch {
            logger.warning("flame graph not captured", metadata: ["backend.address": "\(address)", "reason": "\(reason)", "error": "\(error)"])
        }
    }

    // MARK: ProfileCapturing (admin API)

    func capture(address: HostPort, reason: String) async throws -> ProfileRecord {
        try await capture(address: address, reason: reason, from: supervisor)
    }

    private func capture(address: HostPort, reason: String, from supervisor: CaptureSupervisor) async throws -> ProfileRecord {
        let captured = try await supervisor.snapshot(address: address, reason: reason)
        let record = ProfileRecord(
            address: address.description, reason: reason, source: captured.source.rawValue, capturedAt: clock.date,
            windowStart: captured.windowStart, samples: captured.sampleCount,
            folded: String(decoding: captured.folded, as: UTF8.self), svg: Data(captured.svg))
        return try await store.save(record)
    }

    nonisolated var maximumPushSize: Int { pushLimit.load(ordering: .relaxed) }

    func push(address: HostPort, body: [UInt8], contentType: String?) async throws {
        do {
            try await supervisor.push(address: address, body: body, contentType: contentType)
        } catch .tooLarge(let text) {
            throw InputTooLarge(text)
        }
    }

    private static func isLocal(_ address: HostPort) -> Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(address.host) || address.host.hasPrefix("127.")
    }
}
