import Foundation
import Synchronization
import TugboatCore
#if canImport(Glibc)
import Glibc
#endif

/// Starts a child (`tugboat_spawn`: fork and exec) in a process group of its own, with every signal
/// at its default action and none blocked, optionally bound to Tugboat's life, and reaps it on a
/// thread of its own.
///
/// Foundation's `Process` is not used for instances: a child spawned from a Swift-concurrency
/// (libdispatch) thread inherits that thread's mask, which blocks SIGTERM and almost every other
/// signal, and a child of `tugboat serve` would inherit SIGTERM ignored (service-lifecycle ignores
/// it to watch it through a dispatch source). Either makes a graceful stop impossible.
final class SpawnedChild: Sendable {
    let pid: Int32
    private let exited = Latch()
    private let status = Mutex<InstanceExit.Status?>(nil)

    /// - Parameters:
    ///   - extra: the child's environment besides what every child gets (see `ProcessSpawner`).
    ///   - stdout, stderr: descriptors for the child's 1 and 2, or nil to share Tugboat's.
    ///   - diesWithTugboat: the child gets SIGKILL when Tugboat dies, even by SIGKILL (instances;
    ///     not scripts, which may be half-way through a deployment).
    ///   - onExit: called on the reaper thread once the child has exited.
    init(_ argv: [String], addingEnvironment extra: [String: String], stdout: Int32? = nil, stderr: Int32? = nil,
         diesWithTugboat: Bool = false, onExit: (@Sendable (InstanceExit.Status) -> Void)? = nil) throws {
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(argv, addingEnvironment: extra, stdout: stdout, stderr: stderr,
                                           diesWithTugboat: diesWithTugboat)
        } catch {
            throw ProviderError(error.description)
        }
        self.pid = pid
        let childPID = pid
        Thread.detachNewThread { [self] in
            var raw: Int32 = 0
            while waitpid(childPID, &raw, 0) < 0 {
                if errno != EINTR {
                    finish(.unknown("lost (\(String(cString: strerror(errno))))"), onExit)
                    return
                }
            }
            let signal = raw & 0x7f
            finish(signal == 0 ? .exited((raw >> 8) & 0xff) : .signalled(signal), onExit)
        }
    }

    private func finish(_ result: InstanceExit.Status, _ onExit: (@Sendable (InstanceExit.Status) -> Void)?) {
        status.withLock { $0 = result }
        exited.open()
        onExit?(result)
    }

    /// How it exited, once it has.
    var exitStatus: InstanceExit.Status? { status.withLock { $0 } }

    var hasExited: Bool { exited.isOpen }

    func waitForExit() async { await exited.wait() }

    /// Signals the child's whole process group (while the child is unreaped, its pid is not reused).
    func signalGroup(_ signal: Int32) {
        guard !hasExited else { return }
        kill(-pid, signal)
    }

    /// SIGTERM to the group (again every 200 ms), SIGKILL after `grace`; returns whether it went in time.
    @discardableResult
    func terminate(grace: Duration) async -> Bool {
        signalGroup(SIGTERM)
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForExit(); return true }
            group.addTask {
                let deadline = ContinuousClock.now + grace
                while ContinuousClock.now < deadline {
                    do { try await Task.sleep(for: min(.milliseconds(200), deadline - ContinuousClock.now)) } catch { return true }
                    self.signalGroup(SIGTERM)
                }
                return false
            }
            let inTime = await group.next() ?? true
            if !inTime { signalGroup(SIGKILL) }
            group.cancelAll()
            await group.waitForAll()
            return inTime
        }
    }
}
