import Foundation
import Synchronization
import TugboatCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A profiler child (`perf`, `py-spy`): started through `ProcessSpawner` in a process group of its own,
/// with every signal at its default action and none blocked, and reaped on a thread of its own.
///
/// A child spawned from a Swift-concurrency thread would otherwise inherit that thread's signal
/// mask (SIGINT and SIGTERM blocked), and could then not be stopped gracefully; `perf` and `py-spy`
/// must get SIGINT to write their last file.
final class ChildProcess: Sendable {
    /// How a child ended.
    enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signalled(let signal): "signal \(signal)"
            }
        }
    }

    private struct State {
        var exit: Exit?
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    let pid: pid_t
    let argv: [String]
    private let state = Mutex(State())

    /// Starts `argv` (an absolute path first); stdin is /dev/null, stdout and stderr go to these
    /// files (new ones, see ``CaptureFiles/create(_:)``), or /dev/null when nil.
    init(_ argv: [String], stdout: String? = nil, stderr: String? = nil) throws(CaptureError) {
        self.argv = argv
        let out = stdout.map(CaptureFiles.create) ?? open("/dev/null", O_WRONLY | O_CLOEXEC)
        let err = stderr.map(CaptureFiles.create) ?? open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer {
            if out >= 0 { close(out) }
            if err >= 0 { close(err) }
        }
        let pid: pid_t
        do {
            // A profiler must not outlive Tugboat (a system-wide perf would sample on forever).
            pid = try ProcessSpawner.spawn(argv, stdout: out >= 0 ? out : nil, stderr: err >= 0 ? err : nil, diesWithTugboat: true)
        } catch {
            throw CaptureError.toolFailed(error.description)
        }
        self.pid = pid
        Thread.detachNewThread { [self] in reap() }
    }

    private func reap() {
        var raw: Int32 = 0
        var exit = Exit.exited(-1)
        while true {
            if waitpid(pid, &raw, 0) >= 0 {
                let signal = raw & 0x7f
                exit = signal == 0 ? .exited((raw >> 8) & 0xff) : .signalled(signal)
                break
            }
            if errno != EINTR { break }
        }
        let waiters = state.withLock { state in
            state.exit = exit
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// How it ended, once it has.
    var exit: Exit? { state.withLock { $0.exit } }
    var hasExited: Bool { exit != nil }

    /// Waits until the child has exited, or the task is cancelled.
    func waitForExit() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.exit != nil || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Waits until the child has exited, at most `timeout`; whether it has.
    @discardableResult
    func waitForExit(timeout: Duration) async -> Bool {
        if hasExited { return true }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForExit() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return hasExited
    }

    /// Sends `signal` to the child's process group (while unreaped, its pid is not reused).
    func signal(_ signal: Int32) {
        state.withLock { state in
            guard state.exit == nil else { return }
            _ = kill(-pid, signal)
        }
    }

    /// `signal` (SIGINT: profilers write their file), SIGKILL when the child is still there after
    /// `grace`; returns once it has exited.
    func stop(signal first: Int32 = SIGINT, grace: Duration) async {
        signal(first)
        if await waitForExit(timeout: grace) { return }
        signal(SIGKILL)
        await waitForExit(timeout: .seconds(5))
    }
}
