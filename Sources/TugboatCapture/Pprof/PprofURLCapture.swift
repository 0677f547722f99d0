import AsyncHTTPClient
import FlameGraph
import Foundation
import Logging
import NIOCore
import NIOPosix
import TugboatCore

/// `GET http://INSTANCE/debug/pprof/profile?seconds=N`, a pull source.
///
/// A pull cannot see the past. With `pprofRolling` (the default) profiles of `window` are fetched
/// back to back and the last complete one is kept: a snapshot returns it at once (it ended at most
/// one window ago), and after a crash it is the last window that completed before the death (the
/// fetch in progress dies with the instance). Without rolling, a snapshot fetches `window` now
/// (and so takes that long), and a dead instance has nothing.
actor PprofURLCapture: InstanceCapture {
    private struct Fetched: Sendable {
        var profile: PprofProfile
        var start: Date
        var end: Date
    }

    private let settings: CaptureSettings
    private let address: HostPort
    private let client: HTTPClient
    private let logger: Logger
    private var last: Fetched?
    private var lastError: String?
    private var inFlight: Task<Fetched, any Error>?
    private var rolling: Task<Void, Never>?

    init(settings: CaptureSettings, address: HostPort, client: HTTPClient, logger: Logger) {
        self.settings = settings
        self.address = address
        self.client = client
        self.logger = logger
    }

    private var seconds: Int { max(1, Int(settings.window.seconds.rounded())) }

    var url: String {
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        return "http://\(host):\(address.port)\(settings.pprofPath)?seconds=\(seconds)"
    }

    func start() async {
        guard settings.pprofRolling else { return }
        rolling = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let ok = await self.fetchOnce()
                if !ok {
                    // Not answering (starting, or gone): retry after a slice.
                    try? await Task.sleep(for: self.settings.effectiveSlice)
                }
            }
        }
    }

    private func fetchOnce() async -> Bool {
        let task = startFetch()
        do {
            last = try await task.value
            lastError = nil
            return true
        } catch {
            lastError = "\(url): \(ErrorText.short(error))"
            return false
        }
    }

    private func startFetch() -> Task<Fetched, any Error> {
        if let inFlight { return inFlight }
        let url = self.url
        let client = self.client
        let seconds = self.seconds
        let address = self.address
        let (maximumBody, maximumDecompressed) = (settings.maximumBodySize, settings.maximumDecompressedSize)
        let task = Task<Fetched, any Error> {
            // AsyncHTTPClient retries refused connections until the request's deadline (the
            // profile's length and more): find out at once that the instance is gone.
            try await Self.checkReachable(address)
            let start = Date()
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            let response = try await client.execute(request, timeout: .seconds(Int64(seconds) + 15))
            guard response.status == .ok else {
                throw CaptureError.noProfile("HTTP \(response.status.code)")
            }
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: maximumBody)
            } catch is NIOTooManyBytesError {
                throw CaptureError.tooLarge("profiling: the profile is larger than \(ByteCount.text(maximumBody)) (profiling.max-body)")
            }
            let profile: PprofProfile
            do {
                profile = try PprofProfile(Array(buffer: body), maximumDecompressedSize: maximumDecompressed)
            } catch let error as DecompressionLimitExceeded {
                throw CaptureError.tooLarge("profiling: \(error) (profiling.max-decompressed)")
            }
            return Fetched(profile: profile, start: start, end: Date())
        }
        inFlight = task
        Task { [weak self] in
            _ = await task.result
            await self?.clearInFlight(task)
        }
        return task
    }

    /// Connects and closes (2 s at most); throws when nothing listens.
    private static func checkReachable(_ address: HostPort) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .connect(host: address.host, port: address.port)
            .get()
        try? await channel.close()
    }

    private func clearInFlight(_ task: Task<Fetched, any Error>) {
        if inFlight == task { inFlight = nil }
    }

    func snapshot() async throws(CaptureError) -> WindowProfile {
        var notes: [String] = []
        let fetched: Fetched
        if settings.pprofRolling, let last {
            fetched = last
            notes.append("the last complete rolling fetch of \(seconds) s")
            if let lastError { notes.append("the instance did not answer since: \(lastError)") }
        } else {
            do {
                fetched = try await startFetch().value
                if settings.pprofRolling { last = fetched }
            } catch {
                let why = (error as? CaptureError)?.description ?? ErrorText.short(error)
                throw .noProfile("profiling: GET \(url) failed (\(why)); a pull source cannot see the past, so there is no profile")
            }
        }
        return WindowProfile(
            stacks: fetched.profile.stacks, start: fetched.start, end: fetched.end,
            instanceExited: false, sampleCount: fetched.profile.sampleCount, countName: fetched.profile.countName, notes: notes)
    }

    func stop() async {
        rolling?.cancel()
        rolling = nil
        inFlight?.cancel()
        inFlight = nil
    }
}
