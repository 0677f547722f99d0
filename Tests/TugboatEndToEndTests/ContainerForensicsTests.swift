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

    /// `docker import` of a root holding only the static server (nothing is pulled); `exitAtStart`
    /// makes an image whose program exits with that status half a second after it starts.
    static func buildImage(_ image: String = image, exitAtStart: Int? = nil) throws {
        let env = exitAtStart.map { " -c 'ENV EXIT_AT_START=\($0)'" } ?? ""
        let root = NSTemporaryDirectory() + "tugboat-hot-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let built = try Shell.run("""
            mkdir -p \(root) && gcc -O1 -static -o \(root)/hot \(fixtures)/hot_server.c \
            && tar -C \(root) -c . | docker import -c 'CMD ["/hot"]'\(env) - \(image)
            """)
        guard built.status == 0 else { throw TestFailure("building \(image) (needs gcc and libc6-dev): \(built.output)") }
    }

    /// Tugboat with one instance of `image` from the docker provider, perf capture and the crash
    /// rule paging through `contract`; the clean-up stops it and removes the containers it made.
    static func tugboat(image: String, contract: ContractServer) throws -> (TugboatUnderTest, () -> Void) {
        let before = Set(try DockerHost.containers(pool: "default"))
        let top = """
        scaling:
          provider: { docker: { image: \(image), port: 8080 } }
          min: 1
          max: 1
          target-rps: 1000
        profiling: { source: perf, rate: 99, window: 5s }
        """ + "\n" + CrashPages.alertsYAML(contract)
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        return (tugboat, {
            tugboat.stop()
            for id in (try? DockerHost.containers(pool: "default")) ?? [] where !before.contains(id) { _ = try? Shell.run("docker rm -f \(id)") }
        })
    }

    @Test("a container whose program exits under load pages with a flame graph naming its hot function and its exit status")
    func crashedContainer() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/perf"), "needs linux-perf (apt-get install linux-perf)")
        try Self.buildImage()
        let contract = try ContractServer()
        let (tugboat, cleanUp) = try Self.tugboat(image: Self.image, contract: contract)
        defer { cleanUp() }
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

    @Test("a container that exits before profiling attaches still pages, without a flame graph, and the log says why")
    func containerExitedBeforeAttach() throws {
        let image = "tugboat-hot-early:test"
        try Self.buildImage(image, exitAtStart: 5)
        let contract = try ContractServer()
        let (tugboat, cleanUp) = try Self.tugboat(image: image, contract: contract)
        defer { cleanUp() }
        do {
            try waitUntilBlocking(timeout: .seconds(60), "the crash SMS") { try contract.accepted("sms").count >= 1 }
        } catch {
            Issue.record("no crash SMS; tugboat's log:\n\(tugboat.child.lines.suffix(40).joined(separator: "\n"))")
            throw error
        }
        let sms = try #require((try contract.accepted("sms")[0]["fields"] as? [String: String])?["Body"])
        #expect(sms.contains("exited on its own"), "\(sms)")
        #expect(sms.contains("exit 5") || sms.contains("status 5"), "the exit status is in the page: \(sms)")
        // The link goes out with the page, before any capture could finish; it says there is none.
        let link = try #require(sms.range(of: "Flame graph: ").map { String(sms[$0.upperBound...].prefix { $0 != " " }) })
        let path = String(link.dropFirst("http://127.0.0.1:\(tugboat.adminPort)".count))
        try waitUntilBlocking(timeout: .seconds(10), "the log to say why there is no flame graph") {
            tugboat.child.lines.contains { $0.contains("flame graph not captured") }
        }
        let why = try #require(tugboat.child.lines.first { $0.contains("flame graph not captured") })
        #expect(why.contains("never did"), "the log says why: \(why)")
        let answer = try TestHTTPClient(port: tugboat.adminPort).request("GET", path)
        #expect(answer.status == 404 && answer.bodyText.contains("no flame graph captured"), "\(answer.status) \(answer.bodyText)")
    }
}
