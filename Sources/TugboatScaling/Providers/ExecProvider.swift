import Foundation
import Logging
import Synchronization
import TugboatCore

/// The user's own scripts (an Ansible playbook, a cloud CLI): `up` starts an instance and prints
/// its `host:port` as the last non-empty line of its output; `down` gets that address as `$1` and
/// in `TUGBOAT_INSTANCE`. A non-zero exit or a timeout fails the launch or stop.
///
/// Both run through `/bin/sh -c`, so `up` may be a command line (`ansible-playbook up.yml`).
/// `TUGBOAT_ACTION` is `up` or `down`. Instances are not watched for exits (the pool's health checks
/// see them fail) and are left running on shutdown.
package final class ExecProvider: InstanceProvider {
    package let name = "exec"
    package let exits: AsyncStream<InstanceExit>

    /// The scripts, their time limit and their `env:` (a reload may replace them).
    private let scripts: Mutex<(up: String, down: String, timeout: Duration, environment: [String: String])>
    private let logger: Logger
    private let known = Mutex<[ScalingInstance]>([])
    private let exitContinuation: AsyncStream<InstanceExit>.Continuation

    /// - Parameters:
    ///   - up, down: command lines, run through `/bin/sh -c`.
    ///   - timeout: the longest either may take; then the script's process group is killed.
    ///   - environment: the config's `env:` for both, added to the few variables every child gets
    ///     (see `ChildEnvironment`): a script never sees Tugboat's secrets.
    ///   - adopted: instances known to run already (e.g. persisted before a restart), returned by ``list()``.
    package init(up: String, down: String, timeout: Duration, environment: [String: String] = [:],
                adopted: [ScalingInstance] = [], logger: Logger) {
        self.scripts = Mutex((up, down, timeout, environment))
        self.logger = logger
        known.withLock { $0 = adopted }
        (exits, exitContinuation) = AsyncStream.makeStream()
    }

    package func update(_ settings: ScalingSettings.Provider) {
        guard case .exec(let up, let down, let timeout, let environment) = settings else { return }
        scripts.withLock { $0 = (up, down, timeout, environment) }
    }

    package func launch() async throws -> ScalingInstance {
        let (up, _, timeout, environment) = scripts.withLock { $0 }
        var env = environment
        env["TUGBOAT_ACTION"] = "up"
        let result: ScriptRunner.Result
        do {
            result = try await ScriptRunner.run(up, environment: env, timeout: timeout)
        } catch {
            throw ProviderError("up script \(up) could not run: \(error)")
        }
        guard result.succeeded else {
            throw ProviderError("up script \(result.failureText)")
        }
        let last = result.stdout.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .last { !$0.isEmpty }
        guard let last, let address = HostPort(parsing: last) else {
            throw ProviderError("up script printed no host:port as its last line (got \"\(last?.prefix(100) ?? "")\")")
        }
        let instance = ScalingInstance(providerID: address.description, address: address)
        known.withLock { $0.append(instance) }
        logger.info("instance launched", metadata: ["instance.address": "\(address)", "provider": "exec"])
        return instance
    }

    package func stop(_ instance: ScalingInstance) async throws {
        let (_, down, timeout, environment) = scripts.withLock { $0 }
        var env = environment
        env["TUGBOAT_ACTION"] = "down"
        env["TUGBOAT_INSTANCE"] = instance.address.description
        let result: ScriptRunner.Result
        do {
            result = try await ScriptRunner.run(down, arguments: [instance.address.description], environment: env, timeout: timeout)
        } catch {
            throw ProviderError("down script \(down) could not run: \(error)")
        }
        guard result.succeeded else {
            throw ProviderError("down script \(result.failureText)")
        }
        known.withLock { $0.removeAll { $0.address == instance.address } }
        logger.info("instance stopped", metadata: ["instance.address": "\(instance.address)", "provider": "exec"])
    }

    package func list() async throws -> [ScalingInstance] {
        known.withLock { $0 }
    }

    package func shutdown() async {
        exitContinuation.finish()
    }
}
