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

/// Starts child processes for Tugboat's modules (instances, scripts, profilers, `command` channels)
/// the same way: fork and exec from ``SpawnThread`` (`tugboat_spawn`), a process group of their own,
/// every signal at its default action and none blocked — a child spawned from a Swift-concurrency
/// thread would otherwise inherit a mask that blocks SIGTERM and SIGINT — no descriptor of Tugboat's
/// but 0, 1 and 2 (its listeners and connections are closed by the exec), only the
/// ``ChildEnvironment`` (never Tugboat's secrets), and optionally killed by the kernel when Tugboat
/// dies, even by SIGKILL.
package enum ProcessSpawner {
    /// Returns the child's pid, or throws the errno text of a failed fork or exec.
    /// - Parameters:
    ///   - argv: an absolute path first.
    ///   - extra: the child's environment besides what ``ChildEnvironment`` passes on (the config's `env:`).
    ///   - stdin, stdout, stderr: descriptors for the child's 0, 1 and 2 (nil: /dev/null for 0, Tugboat's own for 1 and 2).
    ///   - diesWithTugboat: SIGKILL the child when Tugboat dies.
    package static func spawn(_ argv: [String], addingEnvironment extra: [String: String] = [:], stdin: Int32? = nil,
                              stdout: Int32? = nil, stderr: Int32? = nil, diesWithTugboat: Bool) throws(SpawnError) -> pid_t {
        let environment = ChildEnvironment.make(parent: ProcessInfo.processInfo.environment, adding: extra)
        // Read only by the spawn thread while this function waits for it.
        nonisolated(unsafe) let argvC = argv.map { strdup($0) } + [nil]
        nonisolated(unsafe) let envC = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argvC { free(pointer) }
            for pointer in envC { free(pointer) }
        }
        let (result, pid) = SpawnThread.shared.perform { () -> (Int32, pid_t) in
            var pid: pid_t = 0
            let result = tugboat_spawn(argv[0], argvC, envC, stdin ?? -1, stdout ?? -1, stderr ?? -1,
                                       diesWithTugboat ? SIGKILL : 0, &pid)
            return (result, pid)
        }
        guard result == 0 else { throw SpawnError(message: "cannot start \(argv[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// A descriptor to pass as a child's `stdin` holding `bytes` (an anonymous file, so writing it
    /// never waits for the child); close it once the child is spawned.
    package static func inputFile(_ bytes: [UInt8]) throws(SpawnError) -> Int32 {
        let fd = bytes.withUnsafeBytes { tugboat_input_file($0.baseAddress, $0.count) }
        guard fd >= 0 else { throw SpawnError(message: "cannot hold the child's input: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Tests only: makes children skip close_range and walk /proc/self/fd instead (the fallback
    /// for kernels before 5.11).
    package static func skipCloseRange(_ skip: Bool) {
        tugboat_spawn_skip_close_range(skip ? 1 : 0)
    }

    package struct SpawnError: Error, CustomStringConvertible {
        package let message: String
        package var description: String { message }
    }
}
