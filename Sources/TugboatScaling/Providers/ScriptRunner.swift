import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a shell command line with arguments, collecting its output, killed (with its process
/// group) after `timeout`.
enum ScriptRunner {
    struct Result: Sendable {
        var status: Int32
        var signalled: Bool
        var timedOut: Bool
        var stdout: String
        var stderr: String

        var succeeded: Bool { !timedOut && !signalled && status == 0 }

        /// "exited with status 2: last line of stderr", for the event log. The line is kept up to
        /// 500 characters: a playbook's error (Docker's message inside Ansible's) is often longer
        /// than a shell script's, and its cause comes last.
        var failureText: String {
            let cause = timedOut ? "timed out" : signalled ? "killed by signal \(status)" : "exited with status \(status)"
            let lastError = stderr.split(whereSeparator: \.isNewline).last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            return lastError.map { "\(cause): \(String($0).prefix(500))" } ?? cause
        }
    }

    /// Collects one pipe's bytes until EOF on a thread of its own (`FileHandle.readabilityHandler`
    /// can crash libdispatch on Linux when the handle is closed while its source is armed).
    final class Collector: Sendable {
        private let data = Mutex<[UInt8]>([])
        private let eof = Latch()
        private let abandoned = Atomic<Bool>(false)

        /// Takes ownership of `fd` (closed at EOF or when abandoned).
        init(fd: Int32) {
            Thread.detachNewThread { [self] in
                defer { close(fd) }
                var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                while !abandoned.load(ordering: .relaxed) {
                    var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let ready = poll(&pollfd, 1, 100)
                    if ready < 0 && errno == EINTR { continue }
                    if ready == 0 { continue }
                    let count = read(fd, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    data.withLock { $0.append(contentsOf: buffer[0..<count]) }
                }
                eof.open()
            }
        }

        /// Waits for EOF at most `limit` (a background child of the script may hold the pipe open;
        /// then the reader gives up within 100 ms).
        func text(waitingAtMost limit: Duration) async -> String {
            let eof = self.eof
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await eof.wait() }
                group.addTask {
                    try? await Task.sleep(for: limit)
                    eof.open()
                }
                await group.next()
                group.cancelAll()
            }
            abandoned.store(true, ordering: .relaxed)
            return data.withLock { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Runs `/bin/sh -c "<commandLine> \"$@\"" tugboat args...`: the arguments arrive as `$1`, `$2`...
    static func run(_ commandLine: String, arguments: [String] = [], environment: [String: String],
                    timeout: Duration) async throws -> Result {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw ProviderError("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw ProviderError("pipe: \(String(cString: strerror(errno)))")
        }
        // Not inherited by anything else spawned meanwhile (dup2 in the child clears the flag on 1 and 2).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let argv = ["/bin/sh", "-c", arguments.isEmpty ? commandLine : "\(commandLine) \"$@\"", "tugboat"] + arguments
        let child: SpawnedChild
        do {
            child = try SpawnedChild(argv, addingEnvironment: environment,
                                     stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        let stdout = Collector(fd: outPipe[0])
        let stderr = Collector(fd: errPipe[0])
        let timedOut = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await child.waitForExit()
                return false
            }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return false }
                return true
            }
            let first = await group.next() ?? false
            if first { child.signalGroup(SIGKILL) }  // the script and everything in its process group
            group.cancelAll()
            await group.waitForAll()
            return first
        }
        let outText = await stdout.text(waitingAtMost: .milliseconds(500))
        let errText = await stderr.text(waitingAtMost: .milliseconds(100))
        var status: Int32 = -1
        var signalled = false
        switch child.exitStatus {
        case .exited(let code): status = code
        case .signalled(let signal): status = signal; signalled = true
        default: break
        }
        return Result(status: status, signalled: signalled, timedOut: timedOut, stdout: outText, stderr: errText)
    }
}
