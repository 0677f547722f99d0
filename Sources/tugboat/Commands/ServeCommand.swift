import ArgumentParser
import Foundation
import Logging
import TugboatCore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the proxy, health checks and admin API from a config file."
    )

    @Option(name: .shortAndLong, help: "The YAML config file.")
    var config: String

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["TUGBOAT_LOG_LEVEL"] ?? "info"

    func run() async throws {
        let loaded: TugboatConfig
        do {
            loaded = try ConfigCheck.load(path: config)
        } catch let error as ConfigError {
            FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        LogSetup.bootstrap(level: logLevel)
        try await TugboatRuntime(config: loaded).run()
    }
}

enum LogSetup {
    static func bootstrap(level: String) {
        let parsed = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
    }
}
