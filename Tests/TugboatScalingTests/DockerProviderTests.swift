import Foundation
import Logging
import Testing
import TugboatCore
@testable import TugboatScaling

let dockerSocket = ProcessInfo.processInfo.environment["TUGBOAT_DOCKER_SOCKET"] ?? "/var/run/docker.sock"
let busyboxPath = "/bin/busybox"

/// Live test against a real dockerd (CI starts one). Skipped, with the reason, when no daemon
/// answers on the socket or no busybox is there to build the test image from (apt: busybox-static).
@Suite(.serialized, .enabled("needs a docker daemon on \(dockerSocket) and \(busyboxPath) (busybox-static)") {
    guard FileManager.default.isExecutableFile(atPath: busyboxPath) else { return false }
    return await DockerAPI(socket: dockerSocket).ping()
})
struct DockerProviderTests {
    let logger = Logger(label: "test.scaling.docker")
    let image = "tugboat-test-httpd:latest"
    let command = ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]

    /// `docker import` of a root with a static busybox and /www/health, through the API.
    func importImage() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-docker-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("www"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: busyboxPath, toPath: root.appendingPathComponent("bin/busybox").path)
        try "ok\n".write(to: root.appendingPathComponent("www/health"), atomically: true, encoding: .utf8)
        let tarFile = root.appendingPathExtension("tar")
        defer { try? FileManager.default.removeItem(at: tarFile) }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-C", root.path, "-cf", tarFile.path, "."]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        let api = DockerAPI(socket: dockerSocket)
        let imported = try await api.request(.POST, "/images/create?fromSrc=-&repo=tugboat-test-httpd&tag=latest",
                                             body: try Data(contentsOf: tarFile))
        #expect(imported.status == 200, "\(String(decoding: imported.body, as: UTF8.self))")
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
        let provider = DockerProvider(image: image, port: 80, socket: dockerSocket, pool: pool, command: command,
                                      stopTimeout: 5, logger: logger)
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
