import Foundation
import TugboatStore

// Pending `for` windows survive a restart: a condition that held 40 s of a 60 s `for` fires 20 s
// after the restart, not 60 s. Each window's start is written when it opens and deleted when it
// closes (fired or cleared); `restore()` puts the open ones back.
extension AlertManager {
    /// Writes or deletes the key's pending window when the machine entered or left `pending`.
    func persistPending(_ key: Key, _ entry: Tracked, wasPending: Bool) {
        let isPending = entry.machine.isPending
        guard isPending != wasPending else { return }
        do {
            if isPending {
                try store.blocking.savePending(.init(rule: key.rule, target: key.target, since: entry.pendingSince ?? clock.date, detail: entry.detail))
            } else {
                try store.blocking.clearPending(rule: key.rule, target: key.target)
            }
        } catch {
            logger.error("pending condition not saved", metadata: ["rule": "\(key.rule)", "incident.target": "\(key.target)", "error": "\(error)"])
        }
    }

    /// The windows open before the restart, on this process's clock: started as long ago as they
    /// did. A rule that is gone, or a target already tracked, drops its window.
    func restorePending() {
        guard let windows = try? store.blocking.pendingConditions() else { return }
        let now = clock.now
        for window in windows {
            let key = Key(rule: window.rule, target: window.target)
            guard let rule = rules[window.rule], tracked[key] == nil else {
                try? store.blocking.clearPending(rule: window.rule, target: window.target)
                continue
            }
            let elapsed = max(0, clock.date.timeIntervalSince(window.since))
            let machine = IncidentStateMachine(policy: .init(rule: rule), restoringPendingSince: now - .milliseconds(Int64(elapsed * 1000)))
            tracked[key] = Tracked(machine: machine, detail: window.detail, pendingSince: window.since)
            logger.info("pending condition restored", metadata: ["rule": "\(window.rule)", "incident.target": "\(window.target)",
                                                                 "pending.for": "\(Int(elapsed))s"])
        }
    }
}
