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
/// as a `Service` (``run()``) and it follows `GET /events` for `die` of its containers.
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

    /// - Parameters:
    ///   - pool: the label value that marks this pool's containers (`tugboat.pool=<pool>`).
    ///   - command: the container's command (`Cmd`), or nil for the image's own.
    ///   - environment: `Env` of the container, with `PORT` set to `port`.
    ///   - stopTimeout: seconds docker waits after SIGTERM before SIGKILL.
    package init(image: String, port: Int, socket: String = "/var/run/docker.sock", pool: String = "default",
                command: [String]? = nil, environment: [String: String] = [:], stopTimeout: Int = 10, logger: Logger) {
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
    /// on ``exits``; reconnects after a second when the stream breaks. Ends on graceful shutdown.
    package func run() async throws {
        let filters = "{\"type\":[\"container\"],\"event\":[\"die\"],\"label\":[\"\(label)=\(pool)\"]}"
        let url = try api.url("/events?filters=\(DockerAPI.query(filters))")
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                do {
                    var request = HTTPClientRequest(url: url)
                    request.headers.add(name: "Host", value: "localhost")
                    let response = try await api.client.execute(request, timeout: .hours(24 * 365))
                    var pending = [UInt8]()
                    for try await chunk in response.body {
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Data(pending[..<newline])
                            pending.removeSubrange(...newline)
                            died(line)
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("docker events stream broke", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func died(_ line: Data) {
        guard let event = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              let id = (event["id"] as? String) ?? ((event["Actor"] as? [String: Any])?["ID"] as? String)
        else { return }
        let attributes = (event["Actor"] as? [String: Any])?["Attributes"] as? [String: Any]
        let code = Int32((attributes?["exitCode"] as? String) ?? "") ?? -1
        let instance = state.withLock { state -> ScalingInstance? in
            guard !state.stopping.contains(id) else { return nil }
            return state.known.removeValue(forKey: id)
        }
        guard let instance else { return }
        logger.warning("instance exited on its own", metadata: ["instance.address": "\(instance.address)", "instance.status": "exit \(code)"])
        exitContinuation.yield(InstanceExit(instance: instance, status: .exited(code)))
    }

    /// Leaves the containers running (they are adopted by label at the next start).
    package func shutdown() async {
        exitContinuation.finish()
    }
}
