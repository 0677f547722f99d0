import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TugboatCore

/// One container of `image` per instance, through the Docker Engine API on its unix socket.
///
/// Create: `HostConfig.Init` (a PID 1 that forwards SIGTERM), the container `port` published on
/// 127.0.0.1 on a free host port, and the label `tugboat.pool=<pool>`; then start, then read the
/// bound port from `NetworkSettings.Ports` (it changes with every start). Containers are only ever
/// reached through that published port, never a bridge address. ``list()`` finds running
/// containers by label (adoption after a restart); stop is stop + remove. Exits: run the provider
/// as a `Service` (``run()``) and it follows `GET /events` for `die` of its containers; each time
/// that stream (re)opens it lists the pool's containers, so deaths while it was down (dockerd
/// restarting) are reported too.
package final class DockerProvider: InstanceProvider, Service {
    package let name = "docker"
    package let exits: AsyncStream<InstanceExit>

    private let api: DockerAPI
    /// The image and container port of new containers (a reload may replace them).
    private let launchSettings: Mutex<(image: String, port: Int)>
    private let pool: String
    private let command: [String]?
    private let environment: [String: String]
    private let stopTimeout: Int
    private let logger: Logger
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation
    /// Containers of this provider by id, and the ids being stopped.
    private let state = Mutex<(known: [String: ScalingInstance], stopping: Set<String>)>(([:], []))
    /// The wait before reopening a broken events stream.
    private let eventsBackoff: ReconnectBackoff

    /// - Parameters:
    ///   - pool: the label value that marks this pool's containers (`tugboat.pool=<pool>`).
    ///   - command: the container's command (`Cmd`), or nil for the image's own.
    ///   - environment: `Env` of the container, with `PORT` set to `port`.
    ///   - stopTimeout: seconds docker waits after SIGTERM before SIGKILL.
    ///   - eventsBackoff: the wait before reopening a broken events stream (dockerd restarting).
    package init(image: String, port: Int, socket: String = "/var/run/docker.sock", pool: String = "default",
                command: [String]? = nil, environment: [String: String] = [:], stopTimeout: Int = 10,
                eventsBackoff: ReconnectBackoff = ReconnectBackoff(initial: .milliseconds(250), maximum: .seconds(5)), logger: Logger) {
        self.eventsBackoff = eventsBackoff
        self.api = DockerAPI(socket: socket)
        self.launchSettings = Mutex((image, port))
        self.pool = pool
        self.command = command
        self.environment = environment
        self.stopTimeout = stopTimeout
        self.logger = logger
        (exits, exitContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    private var label: String { "tugboat.pool" }
    /// The socket stays (a reload refuses another: the running containers live on that daemon).
    package func update(_ settings: ScalingSettings.Provider) {
        guard case .docker(let image, let port, _) = settings else { return }
        launchSettings.withLock { $0 = (image, port) }
    }

    package func launch() async throws -> ScalingInstance {
        let (image, port) = launchSettings.withLock { $0 }
        let portKey = "\(port)/tcp"
        var env = environment
        env["PORT"] = String(port)
        var body: [String: Any] = [
            "Image": image,
            "Labels": [label: pool],
            "Env": env.map { "\($0.key)=\($0.value)" }.sorted(),
            "ExposedPorts": [portKey: [String: Any]()],
            "HostConfig": [
                "Init": true,
                "PortBindings": [portKey: [["HostIp": "127.0.0.1", "HostPort": ""]]],
            ] as [String: Any],
        ]
        if let command { body["Cmd"] = command }
        let created = try await api.request(.POST, "/containers/create", json: body)
        guard created.status == 201,
              let object = try? JSONSerialization.jsonObject(with: created.body) as? [String: Any],
              let id = object["Id"] as? String
        else { throw ProviderError("create \(image): \(DockerAPI.message(created.status, created.body))") }
        do {
            let started = try await api.request(.POST, "/containers/\(id)/start")
            guard started.status == 204 || started.status == 304 else {
                throw ProviderError("start \(id.prefix(12)): \(DockerAPI.message(started.status, started.body))")
            }
            let hostPort = try await boundPort(of: id, portKey: portKey)
            let instance = ScalingInstance(providerID: id, address: HostPort(host: "127.0.0.1", port: hostPort))
            state.withLock { $0.known[id] = instance }
            logger.info("instance launched", metadata: ["instance.address": "\(instance.address)", "instance.container": "\(id.prefix(12))"])
            return instance
        } catch {
            _ = try? await api.request(.DELETE, "/containers/\(id)?force=true")
            throw error
        }
    }

    /// The host port bound to the container port on 127.0.0.1, read after the start.
    private func boundPort(of id: String, portKey: String) async throws -> Int {
        let inspected = try await api.request(.GET, "/containers/\(id)/json")
        guard inspected.status == 200,
              let object = try? JSONSerialization.jsonObject(with: inspected.body) as? [String: Any]
        else { throw ProviderError("inspect \(id.prefix(12)): \(DockerAPI.message(inspected.status, inspected.body))") }
        let settings = object["NetworkSettings"] as? [String: Any]
        let ports = settings?["Ports"] as? [String: Any]
        let bindings = ports?[portKey] as? [[String: Any]] ?? []
        for binding in bindings where (binding["HostIp"] as? String) == "127.0.0.1" {
            if let text = binding["HostPort"] as? String, let port = Int(text), port > 0 { return port }
        }
        let state = object["State"] as? [String: Any]
        if state?["Running"] as? Bool == false {
            throw ProviderError("container \(id.prefix(12)) exited at start (\(state?["ExitCode"] ?? "?"))")
        }
        throw ProviderError("container \(id.prefix(12)) has no 127.0.0.1 binding for \(portKey)")
    }

    package func stop(_ instance: ScalingInstance) async throws {
        let id = instance.providerID
        state.withLock { _ = $0.stopping.insert(id) }
        defer { state.withLock { state in _ = state.stopping.remove(id) } }
        let stopped = try await api.request(.POST, "/containers/\(id)/stop?t=\(stopTimeout)", timeout: .seconds(Int64(stopTimeout + 30)))
        guard [204, 304, 404].contains(stopped.status) else {
            throw ProviderError("stop \(id.prefix(12)): \(DockerAPI.message(stopped.status, stopped.body))")
        }
        let removed = try await api.request(.DELETE, "/containers/\(id)?force=true")
        guard [204, 404].contains(removed.status) else {
            throw ProviderError("remove \(id.prefix(12)): \(DockerAPI.message(removed.status, removed.body))")
        }
        state.withLock { _ = $0.known.removeValue(forKey: id) }
        logger.info("instance stopped", metadata: ["instance.address": "\(instance.address)", "instance.container": "\(id.prefix(12))"])
    }

    /// Running containers with this pool's label, with their 127.0.0.1 published port.
    package func list() async throws -> [ScalingInstance] {
        let filters = "{\"label\":[\"\(label)=\(pool)\"]}"
        let listed = try await api.request(.GET, "/containers/json?filters=\(DockerAPI.query(filters))")
        guard listed.status == 200, let containers = try? JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]] else {
            throw ProviderError("list: \(DockerAPI.message(listed.status, listed.body))")
        }
        let port = launchSettings.withLock { $0.port }
        var found: [ScalingInstance] = []
        for container in containers {
            guard let id = container["Id"] as? String else { continue }
            let ports = container["Ports"] as? [[String: Any]] ?? []
            let published = ports.first {
                ($0["PrivatePort"] as? Int) == port && ($0["IP"] as? String) == "127.0.0.1" && ($0["Type"] as? String) == "tcp"
            }
            guard let hostPort = published?["PublicPort"] as? Int else { continue }
            found.append(ScalingInstance(providerID: id, address: HostPort(host: "127.0.0.1", port: hostPort)))
        }
        state.withLock { state in
            for instance in found { state.known[instance.providerID] = instance }
        }
        return found.sorted { $0.address < $1.address }
    }

    /// The host pid of the container serving `address` (`State.Pid`, read afresh: it changes with
    /// every start), for crash forensics.
    package func process(of address: HostPort) async -> InstanceProcess {
        guard let id = state.withLock({ $0.known.values.first { $0.address == address }?.providerID }) else { return .notMine }
        guard let inspected = try? await api.request(.GET, "/containers/\(id)/json"), inspected.status == 200,
              let object = try? JSONSerialization.jsonObject(with: inspected.body) as? [String: Any],
              let state = object["State"] as? [String: Any], state["Running"] as? Bool == true,
              let pid = state["Pid"] as? Int, pid > 0
        else { return .notRunning }
        return .running(Self.program(under: Int32(pid)))
    }

    /// With `HostConfig.Init` the container's first process is docker-init, whose one child is
    /// the image's program: that is the one to profile.
    static func program(under pid: Int32) -> Int32 {
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard comm == "docker-init" || comm == "tini",
              let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8),
              let first = children.split(separator: " ").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else { return pid }
        return first
    }

    /// Follows `GET /events` for `die` of this pool's containers and reports those not being stopped
    /// on ``exits``. Every time the stream opens (at start and after it broke: dockerd restarting,
    /// its socket closed) the known containers are reconciled with the container list, so one that
    /// died while nobody listened is reported as its `die` event would have been. A broken stream
    /// is reopened after ``eventsBackoff``; the outage is logged when it begins and when it ends.
    /// Ends on graceful shutdown.
    package func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            var backoff = eventsBackoff
            var outage = StreamOutage()
            while !Task.isCancelled {
                // A client of its own for each attempt: the shared one's pool keeps backing off its
                // connects after dockerd was down (up to a minute), which would delay noticing it is back.
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.eventsClientConfiguration)
                var docker = api
                docker.client = client
                let failure: any Error
                do {
                    try await followEvents(through: docker) {
                        backoff.reset()
                        eventsStreamUp.withLock { $0 = true }
                        if let back = outage.connected(at: .now) {
                            logger.info("docker events stream is back; containers that died meanwhile were reported", metadata: [
                                "docker.down_for": "\(back.downFor)", "docker.failed_attempts": "\(back.failures)",
                            ])
                        }
                    }
                    failure = ProviderError("dockerd ended the events stream")
                } catch {
                    failure = error
                }
                try? await client.shutdown()
                eventsStreamUp.withLock { $0 = false }
                if Task.isCancelled { break }
                let delay = backoff.next()
                if outage.failed(at: .now) {
                    logger.warning("docker events stream is down; reconnecting (containers that die meanwhile are reported once it is back)",
                                   metadata: ["error": "\(ErrorText.short(failure))", "docker.socket": "\(api.socket)"])
                } else {
                    logger.debug("docker events stream still down", metadata: [
                        "error": "\(ErrorText.short(failure))", "retry.in": "\(delay)",
                    ])
                }
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// While dockerd is down a connect fails at once (refused, or no socket file); the pool retries
    /// it until this bound, then the attempt fails and the provider's own backoff takes over.
    private static let eventsClientConfiguration: HTTPClient.Configuration = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2))
        return configuration
    }()

    /// Whether the events stream is open and the containers were reconciled (for tests).
    let eventsStreamUp = Mutex(false)

    /// One events stream: subscribe (`since` a second before, so an event in the moment dockerd
    /// takes to subscribe after answering is replayed), then reconcile, then `opened`, while the
    /// `die` events are read as they come; until the stream ends or breaks (thrown).
    private func followEvents(through docker: DockerAPI, opened: () -> Void) async throws {
        let filters = "{\"type\":[\"container\"],\"event\":[\"die\"],\"label\":[\"\(label)=\(pool)\"]}"
        let since = Int(Date().timeIntervalSince1970) - 1
        var request = HTTPClientRequest(url: try docker.url("/events?since=\(since)&filters=\(DockerAPI.query(filters))"))
        request.headers.add(name: "Host", value: "localhost")
        // The timeout bounds the wait for the answer's head only, not the stream.
        let response = try await docker.client.execute(request, timeout: .seconds(10))
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 1 << 20)
            throw ProviderError("events: \(DockerAPI.message(response.status.code, body.map { Data($0.readableBytesView) } ?? Data()))")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                var pending = [UInt8]()
                for try await chunk in response.body {
                    pending.append(contentsOf: chunk.readableBytesView)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = Data(pending[..<newline])
                        pending.removeSubrange(...newline)
                        died(line)
                    }
                }
            }
            try await reconcile(through: docker)
            opened()
            try await group.waitForAll()
        }
    }

    /// Reports every known container that is no longer running (exited, dead or removed) as its
    /// `die` event would have been (``DockerReconciliation``).
    func reconcile(through docker: DockerAPI? = nil) async throws {
        let docker = docker ?? api
        // Read before the list: a container launched after it is in no listing yet.
        let known = state.withLock { Set($0.known.keys) }
        let filters = "{\"label\":[\"\(label)=\(pool)\"]}"
        let listed = try await docker.request(.GET, "/containers/json?all=1&filters=\(DockerAPI.query(filters))")
        guard listed.status == 200 else { throw ProviderError("list: \(DockerAPI.message(listed.status, listed.body))") }
        let deaths = DockerReconciliation.deaths(known: known, listed: try DockerReconciliation.listedStates(listed.body))
        for death in deaths {
            exited(id: death.id, status: await exitStatus(of: death, through: docker))
        }
    }

    /// The exit code docker kept for a stopped container, as its `die` event carries it.
    private func exitStatus(of death: DockerReconciliation.Death, through docker: DockerAPI) async -> InstanceExit.Status {
        let removed = InstanceExit.Status.unknown("container removed")
        guard let listedState = death.state else { return removed }
        guard let inspected = try? await docker.request(.GET, "/containers/\(death.id)/json") else { return .unknown(listedState) }
        if inspected.status == 404 { return removed }
        return DockerReconciliation.exitCode(inspected: inspected.body).map { .exited($0) } ?? .unknown(listedState)
    }

    private func died(_ line: Data) {
        guard let event = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              let id = (event["id"] as? String) ?? ((event["Actor"] as? [String: Any])?["ID"] as? String)
        else { return }
        let attributes = (event["Actor"] as? [String: Any])?["Attributes"] as? [String: Any]
        let code = Int32((attributes?["exitCode"] as? String) ?? "") ?? -1
        exited(id: id, status: .exited(code))
    }

    /// A container of this provider stopped without ``stop(_:)``: reported once on ``exits``,
    /// whether its `die` event said so or the reconciliation found it.
    private func exited(id: String, status: InstanceExit.Status) {
        let instance = state.withLock { state -> ScalingInstance? in
            guard !state.stopping.contains(id) else { return nil }
            return state.known.removeValue(forKey: id)
        }
        guard let instance else { return }
        logger.warning("instance exited on its own", metadata: ["instance.address": "\(instance.address)", "instance.status": "\(status)"])
        exitContinuation.yield(InstanceExit(instance: instance, status: status))
    }

    /// Leaves the containers running (they are adopted by label at the next start).
    package func shutdown() async {
        exitContinuation.finish()
    }
}
