import Foundation
import Synchronization

/// One thread that lives as long as the process and does every spawn.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not the process. Swift
/// concurrency and dispatch threads come and go, so a child forked from one of them could be killed
/// at random; forked from this thread, it is killed only when Tugboat itself dies.
final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wake = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                wake.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job()
            }
        }
        thread.name = "tugboat-spawn"
        thread.start()
    }

    /// Runs `work` on the spawn thread and waits for its result (a fork: a millisecond or so).
    func perform<T: Sendable>(_ work: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        jobs.withLock {
            $0.append {
                result.withLock { $0 = work() }
                done.signal()
            }
        }
        wake.signal()
        done.wait()
        return result.withLock { $0! }
    }
}
