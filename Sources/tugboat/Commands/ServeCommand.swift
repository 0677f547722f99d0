import ArgumentParser
import Foundation
import Logging
import TugboatCore
import TugboatProxy

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

enum LogSetup {
    /// `--log-level` and `--log-format`, when given: they win over the file, at start and on reload.
    struct Overrides: Sendable {
        var level: Logger.Level?
        var format: LogFormat?
    }

    static func overrides(_ options: LogOptions) -> Overrides {
        Overrides(level: options.logLevel.flatMap(LogSettings.level(named:)), format: options.logFormat.flatMap(LogFormat.init(rawValue:)))
    }

    /// The level and format in force: the command line, then `log:`, then `TUGBOAT_LOG_LEVEL`, then info.
    static func settings(_ overrides: Overrides, config: LogSettings) -> (level: Logger.Level, format: LogFormat) {
        let environment = ProcessInfo.processInfo.environment["TUGBOAT_LOG_LEVEL"].flatMap(LogSettings.level(named:))
        return (overrides.level ?? config.level ?? environment ?? .info, overrides.format ?? config.format)
    }

    /// Every logger follows the returned control, which a reload changes.
    @discardableResult
    static func bootstrap(_ options: LogOptions, config: LogSettings = LogSettings()) -> LogControl {
        let (level, format) = settings(overrides(options), config: config)
        let control = LogControl(level: level, format: format)
        LoggingSystem.bootstrap { label in TugboatLogHandler(label: label, control: control) }
        return control
    }
}
