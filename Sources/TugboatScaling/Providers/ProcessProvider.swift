import Foundation
import Logging
import Synchronization
import TugboatCore

/// Runs `command` once per instance, `{port}` replaced by a free port of `ports` (also in `PORT`),
/// through `/bin/sh -c`, listening on 127.0.0.1.
///
/// Each child runs in its own process group, with default signal actions and nothing blocked
/// (see ``SpawnedChild``), so stopping signals the whole group: the shell and what it started. Stop sends SIGTERM,
/// then SIGKILL after `stopGrace`. An instance that exits on its own is reported on ``exits``.
/// Children do not outlive the provider: ``shutdown()`` stops them all, deinit kills what is left,
/// and if Tugboat dies (even by SIGKILL) the kernel kills the child it started (`PR_SET_PDEATHSIG`,
/// see ``ProcessSpawner``). A lone simple command is run as `exec command`, so that is the app
/// itself; a compound command line (`cd x && ./app`) should end in `exec ./app` for the same.
package final class ProcessProvider: InstanceProvider {
    package let name = "process"
    package let exits: AsyncStream<InstanceExit>

    private struct Child {
        var child: SpawnedChild?
        var instance: ScalingInstance?
        var stopping = false
        var exited = false
    }

    private struct State {
        var children: [Int: Child] = [:]  // by port
        var lastPort: Int?
        var closed = false
    }

    /// The command line and port range new instances get (a reload may replace them).
    /// The command, its ports and its `env:` (a reload may replace them).
    private let launchSettings: Mutex<(command: String, ports: ClosedRange<Int>, environment: [String: String])>
    private let stopGrace: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation

    /// - Parameters:
    ///   - command: a shell command line; `{port}` is replaced by the instance's port.
    ///   - ports: the ports instances may use; a port in use by anything else is skipped.
    ///   - environment: the config's `env:`, added (with `PORT`) to the few variables every child
    ///     gets (see `ChildEnvironment`): an instance never sees Tugboat's secrets.
    ///   - stopGrace: time between SIGTERM and SIGKILL.
    package init(command: String, ports: ClosedRange<Int>, environment: [String: String] = [:],
                stopGrace: Duration = .seconds(10), logger: Logger) {
        self.launchSettings = Mutex((command, ports, environment))
        self.stopGrace = stopGrace
        self.logger = logger
        (exits, exitContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    deinit {
        let children = state.withLock { state in state.children.values.compactMap(\.child) }
        for child in children { child.signalGroup(SIGKILL) }
        exitContinuation.finish()
    }

    package func update(_ settings: ScalingSettings.Provider) {
        guard case .process(let command, let ports, let environment) = settings else { return }
        launchSettings.withLock { $0 = (command, ports, environment) }
    }

    package func launch() async throws -> ScalingInstance {
        let (command, ports, environment) = launchSettings.withLock { $0 }
        let port = try reservePort(in: ports)
        let line = Self.execLine(command.replacingOccurrences(of: "{port}", with: String(port)))
        var env = environment
        env["PORT"] = String(port)
        let child: SpawnedChild
        do {
            child = try SpawnedChild(["/bin/sh", "-c", line], addingEnvironment: env,
                                 diesWithTugboat: true) { [weak self] status in
                self?.terminated(port: port, status: status)
            }
        } catch {
            state.withLock { _ = $0.children.removeValue(forKey: port) }
            throw ProviderError("cannot run \(line): \(error)")
        }
        let instance = ScalingInstance(providerID: String(child.pid), address: HostPort(host: "127.0.0.1", port: port))
        let exitedAlready = state.withLock { state -> Bool in
            state.children[port]?.child = child
            state.children[port]?.instance = instance
            return state.children[port]?.exited ?? true
        }
        logger.info("instance launched", metadata: ["instance.address": "\(instance.address)", "instance.pid": "\(instance.providerID)"])
        if exitedAlready, let status = child.exitStatus {
            // It died before we knew its address: report it now.
            state.withLock { _ = $0.children.removeValue(forKey: port) }
            exitContinuation.yield(InstanceExit(instance: instance, status: status))
        }
        return instance
    }

    package func stop(_ instance: ScalingInstance) async throws {
        let port = instance.address.port
        let child = state.withLock { state -> SpawnedChild? in
            guard var entry = state.children[port], entry.instance?.providerID == instance.providerID else { return nil }
            entry.stopping = true
            state.children[port] = entry
            return entry.child
        }
        guard let child else { return }  // gone already
        let inTime = await child.terminate(grace: stopGrace)
        state.withLock { _ = $0.children.removeValue(forKey: port) }
        logger.info("instance stopped", metadata: [
            "instance.address": "\(instance.address)", "instance.pid": "\(child.pid)", "instance.killed": "\(!inTime)",
        ])
    }

    package func list() async throws -> [ScalingInstance] {
        state.withLock { state in
            state.children.values.filter { !$0.stopping && !$0.exited }.compactMap(\.instance)
                .sorted { $0.address < $1.address }
        }
    }

    /// Stops every child (SIGTERM, SIGKILL after the grace time) and ends ``exits``.
    package func shutdown() async {
        let all = state.withLock { state -> [ScalingInstance] in
            state.closed = true
            return state.children.values.compactMap(\.instance)
        }
        await withTaskGroup(of: Void.self) { group in
            for instance in all { group.addTask { try? await self.stop(instance) } }
        }
        exitContinuation.finish()
    }

    private func terminated(port: Int, status: InstanceExit.Status) {
        let exit = state.withLock { state -> InstanceExit? in
            guard var entry = state.children[port] else { return nil }
            entry.exited = true
            guard !entry.stopping, let instance = entry.instance else {
                state.children[port] = entry
                return nil
            }
            state.children[port] = nil
            return InstanceExit(instance: instance, status: status)
        }
        if let exit {
            logger.warning("instance exited on its own", metadata: ["instance.address": "\(exit.instance.address)", "instance.status": "\(status)"])
            exitContinuation.yield(exit)
        }
    }

    /// A lone simple command gets `exec ` in front, so the app replaces the shell and carries the
    /// death signal itself (Debian's dash forks even a lone command). A compound line (operators,
    /// subshells, a leading assignment) is left as written: it should end in `exec app`.
    static func execLine(_ line: String) -> String {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let operators = trimmed.replacingOccurrences(of: ">&", with: "").replacingOccurrences(of: "<&", with: "")  // 2>&1 is a redirection
        let compound = operators.contains { ";&|()`\n".contains($0) } || trimmed.contains("$(")
        let firstWord = trimmed.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let keywords: Set<String> = ["exec", "if", "for", "while", "until", "case", "{", "!", "cd"]
        if compound || firstWord.contains("=") || keywords.contains(firstWord) { return line }
        return "exec " + trimmed
    }

    /// The next port of the range after the last one handed out that no child holds and that is free.
    private func reservePort(in ports: ClosedRange<Int>) throws -> Int {
        let (candidates, closed) = state.withLock { state -> ([Int], Bool) in
            let start = state.lastPort.map { ports.contains($0) && $0 < ports.upperBound ? $0 + 1 : ports.lowerBound } ?? ports.lowerBound
            let ordered = Array(start...ports.upperBound) + (start > ports.lowerBound ? Array(ports.lowerBound..<start) : [])
            return (ordered.filter { state.children[$0] == nil }, state.closed)
        }
        if closed { throw ProviderError("process provider is shut down") }
        for port in candidates where PortProbe.isFree(port: port) {
            let taken = state.withLock { state -> Bool in
                if state.children[port] != nil { return true }
                state.children[port] = Child()
                state.lastPort = port
                return false
            }
            if !taken { return port }
        }
        throw ProviderError("no free port in \(ports.lowerBound)-\(ports.upperBound)")
    }
}
