import Foundation
import Logging
import Testing
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

    @Test func aMissingImageFailsTheLaunch() async throws {
        let provider = DockerProvider(image: "tugboat-no-such-image:0", port: 80, socket: dockerSocket,
                                      pool: "test-missing", logger: logger)
        await #expect(throws: ProviderError.self) { _ = try await provider.launch() }
        #expect(try await provider.list().isEmpty)
    }
}
