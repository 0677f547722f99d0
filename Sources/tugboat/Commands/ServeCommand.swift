import ArgumentParser
import Foundation
import Logging
import TugboatCore
import TugboatProxy
import TugboatRuntime

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the proxy, health checks and admin API from a config file."
    )

    @Option(name: .shortAndLong, help: "The YAML config file.")
    var config: String

    @OptionGroup var logOptions: LogOptions

    func run() async throws {
        let loaded: TugboatConfig
        do {
            loaded = try ConfigCheck.load(path: config)
        } catch let error as ConfigError {
            FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        let logControl = LogSetup.bootstrap(logOptions, config: loaded.log)
        let reload = TugboatRuntime.Reload(path: config, logControl: logControl, logOverrides: LogSetup.overrides(logOptions))
        do {
            try await TugboatRuntime(config: loaded, reload: reload).run()
        } catch let error as ListenError {
            FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        } catch let error as AccessLogError {
            FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}

/// `--log-level` and `--log-format`: the CLI wins over `log:` in the config, which wins over
/// `TUGBOAT_LOG_LEVEL`; an unknown level or format is an error, not a silent `info`.
struct LogOptions: ParsableArguments {
    @Option(help: "Log level: \(LogSettings.levelNames) (default: log.level, TUGBOAT_LOG_LEVEL, or info).")
    var logLevel: String?

    @Option(help: "Log format: text or json (default: log.format, or text).")
    var logFormat: String?

    func validate() throws {
        if let logLevel, LogSettings.level(named: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(LogSettings.levelNames), got '\(logLevel)'")
        }
        if let logFormat, LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json, got '\(logFormat)'")
        }
    }
}

/// The command line's half of ``LogSetup``: `--log-level` and `--log-format` as overrides.
extension LogSetup {
    static func overrides(_ options: LogOptions) -> Overrides {
        Overrides(level: options.logLevel.flatMap(LogSettings.level(named:)), format: options.logFormat.flatMap(LogFormat.init(rawValue:)))
    }

    /// Every logger follows the returned control, which a reload changes.
    @discardableResult
    static func bootstrap(_ options: LogOptions, config: LogSettings = LogSettings()) -> LogControl {
        bootstrap(overrides(options), config: config)
    }
}
