import Foundation
import Synchronization

/// A thread of its own for actors that call the store's blocking API (``BlockingStore``): an
/// actor whose `unownedExecutor` is this thread's runs its jobs here, one at a time, so a call
/// that waits on SQLite (an `fsync` per commit, a busy timeout) holds this thread and never one of
/// the cooperative pool's, which serve the proxy, the health checks and the admin API.
package final class StoreThread: SerialExecutor, @unchecked Sendable {
    /// The process's one store thread.
    package static let shared = StoreThread(name: "tugboat-store")

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    /// The thread's id, set as it starts (before it takes any job).
    private let id = Mutex<pthread_t?>(nil)

    init(name: String) {
        let thread = Thread { [unowned self] in
            self.id.withLock { $0 = pthread_self() }
            self.run()
        }
        thread.name = name
        thread.start()
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    package func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// True on the store thread.
    package var isCurrent: Bool {
        id.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    package func checkIsolated() {
        precondition(isCurrent, "not on the store thread")
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}
