import Foundation
import Logging
import Synchronization
import TugboatCore

/// Runs `command` once per instance, `{port}` replaced by a free port of `ports` (also in `PORT`),
/// through `/bin/sh -c`, listening on 127.0.0.1.
///
/// Each child runs in its own process group (Foundation's `Process` makes every child a group
/// leader), so stopping signals the whole group: the shell and what it started. Stop sends SIGTERM,
/// then SIGKILL after `stopGrace`. An instance that exits on its own is reported on ``exits``.
/// Children do not outlive the provider: ``shutdown()`` stops them all, and deinit kills what is
/// left. (A SIGKILL of Tugboat itself cannot be covered from Swift: `prctl(PR_SET_PDEATHSIG)` must
/// run in the child between fork and exec, which `posix_spawn` does not allow; see scaling-notes.)
public final class ProcessProvider: InstanceProvider {
    public let name = "process"
    public let exits: AsyncStream<InstanceExit>

    private struct Child {
        var process: Process
        var instance: ScalingInstance?
        var stopping = false
        var status: InstanceExit.Status?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct State {
        var children: [Int: Child] = [:]  // by port
        var lastPort: Int?
        var closed = false
    }

    private let command: String
    private let ports: ClosedRange<Int>
    private let environment: [String: String]
    private let stopGrace: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation

    /// - Parameters:
    ///   - command: a shell command line; `{port}` is replaced by the instance's port.
    ///   - ports: the ports instances may use; a port in use by anything else is skipped.
    ///   - environment: added to Tugboat's own environment (and `PORT`).
    ///   - stopGrace: time between SIGTERM and SIGKILL.
    public init(command: String, ports: ClosedRange<Int>, environment: [String: String] = [:],
                stopGrace: Duration = .seconds(10), logger: Logger) {
        self.command = command
        self.ports = ports
        self.environment = environment
        self.stopGrace = stopGrace
        self.logger = logger
        (exits, exitContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    deinit {
        let pids = state.withLock { state in
            state.children.values.filter { $0.status == nil }.map { $0.process.processIdentifier }
        }
        for pid in pids where pid > 0 { kill(-pid, SIGKILL) }
        exitContinuation.finish()
    }

    public func launch() async throws -> ScalingInstance {
        let port = try reservePort()
        let line = command.replacingOccurrences(of: "{port}", with: String(port))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", line]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        env["PORT"] = String(port)
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [weak self] finished in
            let status: InstanceExit.Status = finished.terminationReason == .uncaughtSignal
                ? .signalled(finished.terminationStatus) : .exited(finished.terminationStatus)
            self?.terminated(port: port, status: status)
        }
        state.withLock { $0.children[port] = Child(process: process) }
        do {
            try process.run()
        } catch {
            state.withLock { _ = $0.children.removeValue(forKey: port) }
            throw ProviderError("cannot run \(line): \(error)")
        }
        let instance = ScalingInstance(providerID: String(process.processIdentifier), address: HostPort(host: "127.0.0.1", port: port))
        let exitedAlready = state.withLock { state -> InstanceExit.Status? in
            state.children[port]?.instance = instance
            return state.children[port]?.status
        }
        logger.info("instance launched", metadata: ["instance.address": "\(instance.address)", "instance.pid": "\(instance.providerID)"])
        if let exitedAlready {
            // It died before we knew its address: report it as an exit.
            exitContinuation.yield(InstanceExit(instance: instance, status: exitedAlready))
        }
        return instance
    }

    public func stop(_ instance: ScalingInstance) async throws {
        let port = instance.address.port
        let pid = state.withLock { state -> Int32? in
            guard var child = state.children[port], child.instance?.providerID == instance.providerID else { return nil }
            child.stopping = true
            state.children[port] = child
            return child.status == nil ? child.process.processIdentifier : nil
        }
        guard let pid else {
            state.withLock { state in
                if state.children[port]?.instance?.providerID == instance.providerID { state.children[port] = nil }
            }
            return
        }
        kill(-pid, SIGTERM)
        let grace = stopGrace
        let inTime = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForExit(port: port); return true }
            group.addTask { try? await Task.sleep(for: grace); return false }
            let first = await group.next() ?? true
            if !first { kill(-pid, SIGKILL) }
            group.cancelAll()
            await group.waitForAll()
            return first
        }
        state.withLock { _ = $0.children.removeValue(forKey: port) }
        logger.info("instance stopped", metadata: [
            "instance.address": "\(instance.address)", "instance.pid": "\(pid)", "instance.killed": "\(!inTime)",
        ])
    }

    public func list() async throws -> [ScalingInstance] {
        state.withLock { state in
            state.children.values.filter { !$0.stopping && $0.status == nil }.compactMap(\.instance)
                .sorted { $0.address < $1.address }
        }
    }

    /// Stops every child (SIGTERM, SIGKILL after the grace time) and ends ``exits``.
    public func shutdown() async {
        let all = state.withLock { state -> [ScalingInstance] in
            state.closed = true
            return state.children.values.compactMap(\.instance)
        }
        await withTaskGroup(of: Void.self) { group in
            for instance in all { group.addTask { try? await self.stop(instance) } }
        }
        exitContinuation.finish()
    }

    private func waitForExit(port: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                guard var child = state.children[port], child.status == nil else { return true }
                child.waiters.append(continuation)
                state.children[port] = child
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func terminated(port: Int, status: InstanceExit.Status) {
        let (waiters, exit) = state.withLock { state -> ([CheckedContinuation<Void, Never>], InstanceExit?) in
            guard var child = state.children[port] else { return ([], nil) }
            child.status = status
            let waiters = child.waiters
            child.waiters = []
            var exit: InstanceExit?
            if !child.stopping, let instance = child.instance {
                exit = InstanceExit(instance: instance, status: status)
                state.children[port] = nil
            } else {
                state.children[port] = child
            }
            return (waiters, exit)
        }
        for waiter in waiters { waiter.resume() }
        if let exit {
            logger.warning("instance exited on its own", metadata: ["instance.address": "\(exit.instance.address)", "instance.status": "\(status)"])
            exitContinuation.yield(exit)
        }
    }

    /// The next port of the range after the last one handed out that no child holds and that is free.
    private func reservePort() throws -> Int {
        let (candidates, closed) = state.withLock { state -> ([Int], Bool) in
            let start = state.lastPort.map { $0 < ports.upperBound ? $0 + 1 : ports.lowerBound } ?? ports.lowerBound
            let ordered = Array(start...ports.upperBound) + (start > ports.lowerBound ? Array(ports.lowerBound..<start) : [])
            return (ordered.filter { state.children[$0] == nil }, state.closed)
        }
        if closed { throw ProviderError("process provider is shut down") }
        for port in candidates where PortProbe.isFree(port: port) {
            let taken = state.withLock { state -> Bool in
                if state.children[port] != nil { return true }
                state.lastPort = port
                return false
            }
            if !taken { return port }
        }
        throw ProviderError("no free port in \(ports.lowerBound)-\(ports.upperBound)")
    }
}
