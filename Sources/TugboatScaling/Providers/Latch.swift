import Synchronization

/// A one-shot gate: ``wait()`` returns once ``open()`` has been called (at once if it was).
final class Latch: Sendable {
    private struct State {
        var open = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
        /// Waits cancelled before their continuation was stored.
        var cancelled: Set<Int> = []
    }
    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { state.withLock { $0.open } }

    /// Until open, whatever happens to the task.
    func wait() async {
        await waitOnce(id: nil)
    }

    /// Until open, at most `limit`, and no longer than the task runs (a cancelled task stops
    /// waiting at once). True when it is open.
    func wait(within limit: Duration) async -> Bool {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await self.waitOnce(id: id)
                } onCancel: {
                    self.cancel(id)
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            _ = await group.next()
            group.cancelAll()
        }
        return isOpen
    }

    private func waitOnce(id: Int?) async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.open { return true }
                guard let id else {
                    state.nextID += 1
                    state.waiters[-state.nextID] = continuation
                    return false
                }
                if state.cancelled.remove(id) != nil { return true }
                state.waiters[id] = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func cancel(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            if !state.open { state.cancelled.insert(id) }
            return nil
        }
        waiter?.resume()
    }
}
