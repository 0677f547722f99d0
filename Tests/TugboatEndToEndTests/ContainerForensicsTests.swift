import Foundation
import Testing

/// Crash forensics for a Docker instance: the docker provider runs a container whose static C
/// server (Tests/Fixtures/hot_server.c) burns CPU in `tugboat_hot_loop`; perf follows the
/// container's process (found through the Engine API, not its published port, which belongs to
/// docker-proxy), and when the program exits the `die` event pages with a flame graph that names
/// the function, though the container's files are gone from the host's view by then.
@Suite("Crash forensics for a container (docker provider, perf)", .serialized, .enabled(if: DockerHost.available))
struct ContainerForensicsTests {
    static let image = "tugboat-hot:test"
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// `docker import` of a root holding only the static server (nothing is pulled).
    static func buildImage() throws {
        let root = NSTemporaryDirectory() + "tugboat-hot-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let built = try Shell.run("""
            mkdir -p \(root) && gcc -O1 -static -o \(root)/hot \(fixtures)/hot_server.c \
            && tar -C \(root) -c . | docker import -c 'CMD ["/hot"]' - \(image)
            """)
        guard built.status == 0 else { throw TestFailure("building \(image) (needs gcc and libc6-dev): \(built.output)") }
    }

    @Test("a container whose program exits under load pages with a flame graph naming its hot function and its exit status")
    func crashedContainer() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/perf"), "needs linux-perf (apt-get install linux-perf)")
        try Self.buildImage()
        let before = Set(try DockerHost.containers(pool: "default"))
        let contract = try ContractServer()
        let top = """
        scaling:
          provider: { docker: { image: \(Self.image), port: 8080 } }
          min: 1
          max: 1
          target-rps: 1000
        profiling: { source: perf, rate: 99, window: 5s }
        """ + "\n" + CrashPages.alertsYAML(contract)
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        defer {
            tugboat.stop()
            for id in (try? DockerHost.containers(pool: "default")) ?? [] where !before.contains(id) { _ = try? Shell.run("docker rm -f \(id)") }
        }
        var instance = ""
        try waitUntilBlocking(timeout: .seconds(60), "the container serving") {
            instance = try tugboat.pool().first { $0["state"] as? String == "healthy" }?["address"] as? String ?? ""
            return !instance.isEmpty
        }
        let load = LoadLoop(port: tugboat.port, path: "/work?ms=5")
        try waitUntilBlocking(timeout: .seconds(30), "load through Tugboat") { load.done > 200 }
        #expect(!tugboat.child.lines.contains { $0.contains("needs the process id") }, "the container's process was found")
        let port = try #require(Int(instance.split(separator: ":").last ?? ""))
        _ = try? TestHTTPClient(port: port).request("GET", "/crash", headers: ["Connection": "close"])

        let (_, _, svg) = try CrashPages.flameGraph(of: instance, tugboat: tugboat, contract: contract)
        load.finish()
        #expect(svg.contains("exit 3"), "the exit status is in the title: \(svg.prefix(1200))")
        #expect(svg.contains("tugboat_hot_loop"), "the container's hot function is in the flame graph: \(svg.prefix(3000))")
    }
}
