import Logging
import Synchronization

/// The level and format every ``TugboatLogHandler`` made from it follows, changed live by a reload.
/// Read on each log call with one relaxed atomic load.
package final class LogControl: Sendable {
    private let levelIndex: Atomic<Int>
    private let formatIndex: Atomic<Int>

    package init(level: Logger.Level, format: LogFormat) {
        levelIndex = Atomic(Self.index(level))
        formatIndex = Atomic(Self.index(format))
    }

    package var level: Logger.Level {
        get { Logger.Level.allCases[levelIndex.load(ordering: .relaxed)] }
        set { levelIndex.store(Self.index(newValue), ordering: .relaxed) }
    }

    package var format: LogFormat {
        get { LogFormat.allCases[formatIndex.load(ordering: .relaxed)] }
        set { formatIndex.store(Self.index(newValue), ordering: .relaxed) }
    }

    private static func index(_ level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level)! }
    private static func index(_ format: LogFormat) -> Int { LogFormat.allCases.firstIndex(of: format)! }
}
