import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Starts a child with `posix_spawn` in a process group of its own, with every signal at its
/// default action and none blocked, and reaps it on a thread of its own.
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
    ///   - stdout, stderr: descriptors for the child's 1 and 2, or nil to share Tugboat's.
    ///   - onExit: called on the reaper thread once the child has exited.
    init(_ argv: [String], environment: [String: String], stdout: Int32? = nil, stderr: Int32? = nil,
         onExit: (@Sendable (InstanceExit.Status) -> Void)? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argvC = argv.map { strdup($0) } + [nil]
        let envC = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argvC { free(pointer) }
            for pointer in envC { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, argvC, envC)
        guard result == 0 else {
            throw ProviderError("cannot start \(argv[0]): \(String(cString: strerror(result)))")
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

    /// The environment of Tugboat with `extra` on top.
    static func environment(adding extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in extra { env[key] = value }
        return env
    }
}
