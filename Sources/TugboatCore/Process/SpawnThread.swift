import CSpawn
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

/// Starts child processes for Tugboat's modules (instances, scripts, profilers) the same way:
/// fork and exec from ``SpawnThread`` (`tugboat_spawn`), a process group of their own, every
/// signal at its default action and none blocked — a child spawned from a Swift-concurrency thread
/// would otherwise inherit a mask that blocks SIGTERM and SIGINT — and optionally killed by the
/// kernel when Tugboat dies, even by SIGKILL.
package enum ProcessSpawner {
    /// Returns the child's pid, or throws the errno text of a failed fork or exec.
    /// - Parameters:
    ///   - stdout, stderr: descriptors for the child's 1 and 2 (nil: Tugboat's own); stdin is /dev/null.
    ///   - diesWithTugboat: SIGKILL the child when Tugboat dies.
    package static func spawn(_ argv: [String], environment: [String: String], stdout: Int32? = nil, stderr: Int32? = nil,
                              diesWithTugboat: Bool) throws(SpawnError) -> pid_t {
        // Read only by the spawn thread while this function waits for it.
        nonisolated(unsafe) let argvC = argv.map { strdup($0) } + [nil]
        nonisolated(unsafe) let envC = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argvC { free(pointer) }
            for pointer in envC { free(pointer) }
        }
        let (result, pid) = SpawnThread.shared.perform { () -> (Int32, pid_t) in
            var pid: pid_t = 0
            let result = tugboat_spawn(argv[0], argvC, envC, stdout ?? -1, stderr ?? -1, diesWithTugboat ? SIGKILL : 0, &pid)
            return (result, pid)
        }
        guard result == 0 else { throw SpawnError(message: "cannot start \(argv[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    package struct SpawnError: Error, CustomStringConvertible {
        package let message: String
        package var description: String { message }
    }
}
