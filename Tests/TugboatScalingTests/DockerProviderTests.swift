import Foundation
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TugboatCore
@testable import TugboatScaling

let dockerSocket = ProcessInfo.processInfo.environment["TUGBOAT_DOCKER_SOCKET"] ?? "/var/run/docker.sock"
let busyboxPath = "/bin/busybox"

/// Live test against a real dockerd (CI starts one). Skipped, with the reason, when no daemon
/// answers on the socket or no busybox is there to build the test image from (apt: busybox-static)
/// with examples/ansible/build-image.sh.
@Suite(.serialized, .enabled("needs a docker daemon on \(dockerSocket) and \(busyboxPath) (busybox-static)") {
    guard FileManager.default.isExecutableFile(atPath: busyboxPath) else { return false }
    return await DockerAPI(socket: dockerSocket).ping()
})
struct DockerProviderTests {
    let logger = Logger(label: "test.scaling.docker")
    let image = "tugboat-demo:latest"

    /// The demo image, built by the script the Ansible example uses (a `docker import` of a static
    /// busybox httpd serving /health), so the image is defined once.
    func importImage() async throws {
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/bin/bash")
        build.arguments = [repositoryRoot.appendingPathComponent("examples/ansible/build-image.sh").path, image]
        try build.run()
        build.waitUntilExit()
        #expect(build.terminationStatus == 0, "examples/ansible/build-image.sh failed")
    }

    func removeAll(pool: String) async {
        let api = DockerAPI(socket: dockerSocket)
        let filters = DockerAPI.query("{\"label\":[\"tugboat.pool=\(pool)\"]}")
        guard let listed = try? await api.request(.GET, "/containers/json?all=true&filters=\(filters)"),
              let containers = try? JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]] else { return }
        for id in containers.compactMap({ $0["Id"] as? String }) {
            _ = try? await api.request(.DELETE, "/containers/\(id)?force=true")
        }
    }

    @Test func launchServesAdoptsReportsADeathAndStops() async throws {
        try await importImage()
        let pool = "test-\(UUID().uuidString.prefix(8))"
        let provider = DockerProvider(image: image, port: 80, socket: dockerSocket, pool: pool, stopTimeout: 5, logger: logger)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await provider.run() }  // the die events
                let a = try await provider.launch()
                #expect(a.address.host == "127.0.0.1")
                try await waitUntil("container \(a.address) healthy") { httpStatus(port: a.address.port, "/health") == 200 }

                // A second provider for the same pool (Tugboat after a restart) adopts it by label.
                let restarted = DockerProvider(image: image, port: 80, socket: dockerSocket, pool: pool, logger: logger)
                #expect(try await restarted.list() == [a])

                // A container that dies on its own is an exit event.
                let api = DockerAPI(socket: dockerSocket)
                _ = try await api.request(.POST, "/containers/\(a.providerID)/kill")
                let exit = await next(provider.exits)
                #expect(exit?.instance == a)
                #expect(exit?.status == .exited(137))
                try await provider.stop(a)  // removes the dead container

                let b = try await provider.launch()
                try await waitUntil("container \(b.address) healthy") { httpStatus(port: b.address.port, "/health") == 200 }
                try await provider.stop(b)
                #expect(httpStatus(port: b.address.port, "/health") == nil)
                #expect(try await provider.list().isEmpty)
                try await provider.stop(b)  // gone already: fine
                group.cancelAll()
            }
        } catch {
            await removeAll(pool: pool)
            throw error
        }
        await removeAll(pool: pool)
        await provider.shutdown()
    }

    /// dockerd restarting (here: the forwarder in front of its socket cutting every connection and
    /// refusing new ones, or not listening at all) breaks the events stream; a container killed
    /// meanwhile emits its `die` to nobody. Once the stream is back the provider still reports it,
    /// once, with its exit code, and logs the outage once, not once per attempt.
    @Test(arguments: [UnixSocketForwarder.Refusal.closedAtOnce, .notListening])
    func aContainerThatDiesWhileTheEventsStreamIsDownIsReportedWhenItIsBack(refusal: UnixSocketForwarder.Refusal) async throws {
        try await importImage()
        let pool = "test-\(UUID().uuidString.prefix(8))"
        let forwarder = try UnixSocketForwarder(target: dockerSocket)
        defer { forwarder.close() }
        let logs = CapturingLogHandler()
        let provider = DockerProvider(image: image, port: 80, socket: forwarder.path, pool: pool, stopTimeout: 5,
                                      eventsBackoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)),
                                      logger: Logger(label: "test.scaling.docker") { _ in logs })
        func logged(_ message: String) -> Int { logs.lines.withLock { $0.filter { $0.contains(message) }.count } }
        let direct = DockerAPI(socket: dockerSocket)  // the test's own requests bypass the forwarder
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await provider.run() }
                let a = try await provider.launch()
                let b = try await provider.launch()
                try await waitUntil("the events stream is up") { provider.eventsStreamUp.withLock { $0 } }

                forwarder.cut(refusal)
                try await waitUntil("the provider saw the stream break") { !provider.eventsStreamUp.withLock { $0 } }
                _ = try await direct.request(.POST, "/containers/\(a.providerID)/kill")
                try await waitUntil("container a stopped") {
                    let inspected = try await direct.request(.GET, "/containers/\(a.providerID)/json")
                    return DockerReconciliation.exitCode(inspected: inspected.body) == 137
                }
                try await waitUntil("two more reconnects refused") { logged("docker events stream still down") >= 2 }
                #expect(!provider.eventsStreamUp.withLock { $0 })

                try forwarder.resume()
                let resumedAt = ContinuousClock.now
                let exit = await next(provider.exits)
                // Promptly: within the provider's backoff (400 ms here) and one 2 s connect bound,
                // not after the shared HTTP client's own connect backoff (which grows to a minute).
                #expect(ContinuousClock.now - resumedAt < .seconds(5))
                #expect(exit?.instance == a)
                #expect(exit?.status == .exited(137))
                try await waitUntil("the events stream is up again") { provider.eventsStreamUp.withLock { $0 } }
                #expect(await provider.process(of: a.address) == .notMine)  // reported, no longer its own
                if case .running = await provider.process(of: b.address) {} else {
                    Issue.record("container b, alive all along, is no longer known as running")
                }
                #expect(logged("docker events stream is down") == 1)
                #expect(logged("docker events stream is back") == 1)
                if refusal == .closedAtOnce { #expect(forwarder.refused >= 2) }

                try await provider.stop(a)
                try await provider.stop(b)
                group.cancelAll()
            }
        } catch {
            await removeAll(pool: pool)
            throw error
        }
        await removeAll(pool: pool)
        await provider.shutdown()
    }

    /// What the user relies on: the scaler keeps `min: 1` through an events stream outage. The
    /// container it launched is killed while the stream is down; once it is back the scaler hears
    /// of the exit (the `instance-exited` notice, exit 137), takes the instance out of the pool and
    /// launches a replacement that turns healthy.
    @Test func theScalerReplacesAContainerThatDiedWhileTheEventsStreamWasDown() async throws {
        try await importImage()
        let pool = "test-\(UUID().uuidString.prefix(8))"
        let forwarder = try UnixSocketForwarder(target: dockerSocket)
        defer { forwarder.close() }
        let provider = DockerProvider(image: image, port: 80, socket: forwarder.path, pool: pool, stopTimeout: 5,
                                      eventsBackoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)), logger: logger)
        let settings = ScalingSettings(provider: .docker(image: image, port: 80, socket: forwarder.path), mode: .targetTracking(targetRPS: 10),
                                       min: 1, max: 1, window: .milliseconds(500), cooldownUp: .zero, stabilizeDown: .milliseconds(500),
                                       panicWindow: .milliseconds(200), drain: .milliseconds(100),
                                       startTimeout: .seconds(20), retryFirst: .milliseconds(50), retryMax: .milliseconds(200))
        let signals = SignalBus()
        let members = Pool(signals: signals, logger: logger)
        let scaler = Scaler(settings: settings, provider: provider, pool: members, signals: signals, logger: logger, tick: .milliseconds(50))
        let notices = scaler.notices()
        let direct = DockerAPI(socket: dockerSocket)
        var victimID = ""
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await provider.run() }
                group.addTask { try await scaler.run() }
                group.addTask { await simulateHealthChecks(members) { httpStatus(port: $0.port, "/health") == 200 } }
                group.addTask { await publishTraffic(signals, rate: Rate(5)) }
                try await waitUntil("one container ready and the events stream up") {
                    await scaler.counts == (1, 1) && provider.eventsStreamUp.withLock { $0 }
                }
                let victim = try #require(try await provider.list().first)
                victimID = victim.providerID

                forwarder.cut(.notListening)
                try await waitUntil("the provider saw the stream break") { !provider.eventsStreamUp.withLock { $0 } }
                _ = try await direct.request(.POST, "/containers/\(victim.providerID)/kill")
                try await waitUntil("the victim stopped") {
                    let inspected = try await direct.request(.GET, "/containers/\(victim.providerID)/json")
                    return DockerReconciliation.exitCode(inspected: inspected.body) == 137
                }
                try forwarder.resume()

                try await waitUntil("a healthy replacement, the victim gone from the pool") {
                    let backends = await members.snapshot.backends
                    let running = try await provider.list()
                    return await scaler.counts == (1, 1) && running.count == 1 && running[0].providerID != victim.providerID
                        && backends.map(\.address) == [running[0].address] && backends[0].state == .healthy
                }
                group.cancelAll()
            }
        } catch {
            await removeAll(pool: pool)
            throw error
        }
        await removeAll(pool: pool)
        var exits: [InstanceExit] = []
        for await notice in notices {
            if case .instanceExited(let exit) = notice { exits.append(exit) }
        }
        #expect(exits.map(\.instance.providerID) == [victimID])
        #expect(exits.first?.status == .exited(137))
        #expect(await scaler.events.contains { $0.failed && $0.reason.contains("exited on its own (exit 137)") })
    }

    /// A real dockerd restart (stop it, start it again as scripts/dockerd.sh does): the container
    /// it stopped on the way down is reported, with the outage logged once. Opt-in
    /// (`TUGBOAT_TEST_RESTART_DOCKERD=1`): it restarts the daemon everything on the machine uses.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TUGBOAT_TEST_RESTART_DOCKERD"] == "1",
                   "restarts the machine's dockerd: only with TUGBOAT_TEST_RESTART_DOCKERD=1"))
    func aDockerdRestartIsSurvived() async throws {
        try await importImage()
        let pool = "test-\(UUID().uuidString.prefix(8))"
        let logs = CapturingLogHandler()
        let provider = DockerProvider(image: image, port: 80, socket: dockerSocket, pool: pool, stopTimeout: 5,
                                      eventsBackoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)),
                                      logger: Logger(label: "test.scaling.docker") { _ in logs })
        func logged(_ message: String) -> Int { logs.lines.withLock { $0.filter { $0.contains(message) }.count } }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await provider.run() }
                let a = try await provider.launch()
                try await waitUntil("the events stream is up") { provider.eventsStreamUp.withLock { $0 } }

                let pidText = try String(contentsOfFile: "/var/run/docker.pid", encoding: .utf8)
                let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
                #expect(kill(pid, SIGTERM) == 0)
                // It removes its pid file last (its pid may linger as a zombie of whoever started it).
                try await waitUntil("dockerd stopped", timeout: .seconds(60)) { !FileManager.default.fileExists(atPath: "/var/run/docker.pid") }
                // As scripts/dockerd.sh starts it; its output not the test's (it outlives the test).
                #expect(system("dockerd >>/tmp/tugboat-dockerd.log 2>&1 </dev/null &") == 0)
                try await waitUntil("dockerd answers again", timeout: .seconds(60)) { await DockerAPI(socket: dockerSocket).ping() }

                let exit = await next(provider.exits)
                #expect(exit?.instance == a)
                print("container stopped by the dockerd restart reported as \(exit.map { "\($0.status)" } ?? "nothing")")
                try await waitUntil("the events stream is up again") { provider.eventsStreamUp.withLock { $0 } }
                #expect(logged("docker events stream is down") == 1)
                #expect(logged("docker events stream is back") == 1)
                try await provider.stop(a)
                group.cancelAll()
            }
        } catch {
            await removeAll(pool: pool)
            throw error
        }
        await removeAll(pool: pool)
    }

    /// The reconciliation on its own (no events stream, so no `die` event can report them first):
    /// known containers that exited or were removed are reported; running ones, and containers
    /// of the pool this provider never knew, are not.
    @Test func theReconciliationReportsKnownContainersThatExitedOrWereRemoved() async throws {
        try await importImage()
        let pool = "test-\(UUID().uuidString.prefix(8))"
        let launcher = DockerProvider(image: image, port: 80, socket: dockerSocket, pool: pool, stopTimeout: 5, logger: logger)
        let direct = DockerAPI(socket: dockerSocket)
        do {
            let killed = try await launcher.launch()
            let removed = try await launcher.launch()
            let alive = try await launcher.launch()
            // Tugboat after a restart adopts the three, then they change before it follows events.
            let provider = DockerProvider(image: image, port: 80, socket: dockerSocket, pool: pool, stopTimeout: 5, logger: logger)
            let adopted = try await provider.list()
            #expect(Set(adopted) == [killed, removed, alive])
            let stranger = try await launcher.launch()  // after the adoption: not the provider's to report
            _ = try await direct.request(.POST, "/containers/\(killed.providerID)/kill")
            _ = try await direct.request(.DELETE, "/containers/\(removed.providerID)?force=true")
            _ = try await direct.request(.POST, "/containers/\(stranger.providerID)/kill")
            try await waitUntil("container killed stopped") {
                let inspected = try await direct.request(.GET, "/containers/\(killed.providerID)/json")
                return DockerReconciliation.exitCode(inspected: inspected.body) == 137
            }

            try await provider.reconcile()
            var reported: [ScalingInstance: InstanceExit.Status] = [:]
            for _ in 0..<2 {
                if let exit = await next(provider.exits) { reported[exit.instance] = exit.status }
            }
            #expect(reported == [killed: .exited(137), removed: .unknown("container removed")])
            #expect(await provider.process(of: killed.address) == .notMine)
            if case .running = await provider.process(of: alive.address) {} else {
                Issue.record("the running container is no longer known as running")
            }

            // Reported once: a second reconciliation finds nothing new, so the next exit is the
            // one that happens next.
            try await provider.reconcile()
            _ = try await direct.request(.POST, "/containers/\(alive.providerID)/kill")
            try await waitUntil("container alive stopped") {
                let inspected = try await direct.request(.GET, "/containers/\(alive.providerID)/json")
                return DockerReconciliation.exitCode(inspected: inspected.body) == 137
            }
            try await provider.reconcile()
            let last = await next(provider.exits)
            #expect(last?.instance == alive)
            #expect(last?.status == .exited(137))
        } catch {
            await removeAll(pool: pool)
            throw error
        }
        await removeAll(pool: pool)
    }

    @Test func aMissingImageFailsTheLaunch() async throws {
        let provider = DockerProvider(image: "tugboat-no-such-image:0", port: 80, socket: dockerSocket,
                                      pool: "test-missing", logger: logger)
        await #expect(throws: ProviderError.self) { _ = try await provider.launch() }
        #expect(try await provider.list().isEmpty)
    }
}
