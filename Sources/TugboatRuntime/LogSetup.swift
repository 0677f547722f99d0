import Foundation
import Logging
import TugboatCore

/// The log level and format in force, and the logging system every logger follows: what `serve`
/// and `demo` set up at start and what a reload changes.
package enum LogSetup {
    /// `--log-level` and `--log-format`, when given: they win over the file, at start and on reload.
    package struct Overrides: Sendable {
        package var level: Logger.Level?
        package var format: LogFormat?

        package init(level: Logger.Level? = nil, format: LogFormat? = nil) {
            self.level = level
            self.format = format
        }
    }

    /// The level and format in force: the command line, then `log:`, then `TUGBOAT_LOG_LEVEL`, then info.
    package static func settings(_ overrides: Overrides, config: LogSettings) -> (level: Logger.Level, format: LogFormat) {
        let environment = ProcessInfo.processInfo.environment["TUGBOAT_LOG_LEVEL"].flatMap(LogSettings.level(named:))
        return (overrides.level ?? config.level ?? environment ?? .info, overrides.format ?? config.format)
    }

    /// Every logger follows the returned control, which a reload changes.
    @discardableResult
    package static func bootstrap(_ overrides: Overrides, config: LogSettings = LogSettings()) -> LogControl {
        let (level, format) = settings(overrides, config: config)
        let control = LogControl(level: level, format: format)
        LoggingSystem.bootstrap { label in TugboatLogHandler(label: label, control: control) }
        return control
    }
}
