import ArgumentParser

struct DemoAppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-app",
        abstract: "The bundled sample backend: /health, /work?ms=N, /crash, /echo."
    )

    @Option(help: "Port to listen on.")
    var port: Int

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Flag(help: "Exit when the parent process exits.")
    var exitWithParent = false

    func run() async throws {
        try await DemoAppServer.run(host: host, port: port, exitWithParent: exitWithParent)
    }
}
