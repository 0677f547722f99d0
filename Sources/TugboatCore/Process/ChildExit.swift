import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Waiting for a child's exit in two steps, so that its process group can still be signalled
/// safely in between: until it is reaped, an exited child's pid (which is also its group's id)
/// cannot be reused.
package enum ChildExit {
    /// Returns once `pid` has exited (or cannot be waited for), leaving it unreaped; waits on a
    /// thread of its own.
    package static func waitWithoutReaping(_ pid: pid_t) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0, errno == EINTR {}
                continuation.resume()
            }
        }
    }

    /// Reaps `pid`, which has exited: its exit status, or 128 + the signal that killed it (as a
    /// shell reports it); -1 when it cannot be reaped.
    package static func reap(_ pid: pid_t) -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }
}
