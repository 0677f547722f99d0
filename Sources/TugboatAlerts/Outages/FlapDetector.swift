import Foundation
import TugboatCore

/// Counts an incident key's state changes (fired, resolved) within a window, as Nagios' flap
/// detection does: `changes` of them within `window` mark the target flapping. Pure.
package struct FlapDetector: Sendable {
    /// A reload may replace them; the history of changes is kept.
    package var settings: FlappingSettings
    private var history: [String: [Date]] = [:]

    package init(settings: FlappingSettings) {
        self.settings = settings
    }

    /// Records a change of `key` at `now`; true when the key is flapping.
    package mutating func record(_ key: String, at now: Date) -> Bool {
        guard settings.window > .zero else { return false }
        let horizon = now.addingTimeInterval(-settings.window.seconds)
        var changes = history[key, default: []].filter { $0 > horizon }
        changes.append(now)
        history[key] = changes
        // Forget keys that have been quiet for a whole window.
        history = history.filter { $0.value.last.map { $0 > horizon } ?? false }
        return changes.count >= settings.changes
    }
}
