import Logging
import TugboatCore
import TugboatRedis

extension ClusterNode {
    enum RegistryInput: Sendable {
        case tick
        case subscriber(RedisSubscriberEvent)
        /// This node wrote `version`.
        case wrote(UInt64)
    }

    /// How often the registry loop checks whether a (re)read is due or failed reads are retried.
    static var registryTick: Duration { .milliseconds(200) }

    // MARK: - Writes

    /// Adds or replaces `address` in the shared registry; returns the new registry version.
    ///
    /// Pass the leader's `epoch` (from `.elected(epoch)`) for a leader's write (the scaler): it
    /// is refused with `ClusterError.staleEpoch` when another node has been elected since. Admin
    /// writes (origin `.admin`) pass `nil`: any node may make them. Fails at once with
    /// `.redisUnavailable` while Redis is down.
    @discardableResult
    package func upsert(_ address: HostPort, _ entry: RegistryEntry, epoch: UInt64? = nil) async throws(ClusterError) -> UInt64 {
        let reply = try await self.eval(
            ClusterScripts.upsert, keys: self.writeKeys,
            args: [epoch.map { "\($0)" } ?? "", self.keys.channel, address.description, ClusterJSON.encode(entry)]
        )
        guard let version = reply.int, version >= 0 else { throw .invalidReply("upsert returned \(reply)") }
        self.registryContinuation.yield(.wrote(UInt64(version)))
        return UInt64(version)
    }

    /// Removes `address` from the shared registry; returns false when it was not there. Same
    /// `epoch` rules as `upsert`.
    @discardableResult
    package func remove(_ address: HostPort, epoch: UInt64? = nil) async throws(ClusterError) -> Bool {
        let reply = try await self.eval(
            ClusterScripts.remove, keys: self.writeKeys,
            args: [epoch.map { "\($0)" } ?? "", self.keys.channel, address.description]
        )
        guard let values = reply.array, values.count == 2, let removed = values[0].int, let version = values[1].int, version >= 0 else {
            throw .invalidReply("remove returned \(reply)")
        }
        if removed == 1 { self.registryContinuation.yield(.wrote(UInt64(version))) }
        return removed == 1
    }

    /// Reads the whole registry (version and hash in one script) straight from Redis.
    package func readRegistry() async throws(ClusterError) -> RegistrySnapshot {
        let reply = try await self.eval(ClusterScripts.read, keys: [self.keys.version, self.keys.instances], args: [])
        guard let values = reply.array, values.count == 2, let version = values[0].int, version >= 0, let pairs = values[1].pairs else {
            throw .invalidReply("registry read returned \(reply)")
        }
        var instances: [HostPort: RegistryEntry] = [:]
        for pair in pairs {
            guard let field = pair.key.string, let address = HostPort(parsing: field), let json = pair.value.string else {
                self.logger.warning("ignoring an unreadable registry entry", metadata: ["cluster.field": "\(pair.key)", "cluster.value": "\(pair.value)"])
                continue
            }
            let entry: RegistryEntry
            do {
                entry = try ClusterJSON.decoding(RegistryEntry.self, from: json)
            } catch {
                self.logger.warning("ignoring an unreadable registry entry", metadata: ["cluster.field": "\(field)", "cluster.value": "\(json)", "error": "\(error)"])
                continue
            }
            instances[address] = entry
        }
        return RegistrySnapshot(version: UInt64(version), instances: instances)
    }

    var writeKeys: [String] { [self.keys.instances, self.keys.count, self.keys.version, self.keys.epoch] }

    func eval(_ script: RedisScript, keys: [String], args: [String]) async throws(ClusterError) -> RESPValue {
        do {
            return try await self.client.evalScript(script, keys: keys, args: args)
        } catch {
            throw ClusterError(error)
        }
    }

    // MARK: - Reader

    /// Reads the whole registry on every `.resynced`, on every nudge with another version, after
    /// this node's own writes, and every `resyncInterval`; retries failed reads every tick.
    func registryLoop() async {
        let inputs = self.registryContinuation
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in self.subscriber.events { inputs.yield(.subscriber(event)) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.registryTick)
                    inputs.yield(.tick)
                }
            }
            var readDue = true
            var lastRead: ContinuousClock.Instant?
            for await input in self.registryInputs {
                let known = self.current?.version
                switch input {
                case .tick:
                    if let lastRead, self.clock.now - lastRead >= self.resyncInterval { readDue = true }
                case .subscriber(.resynced):
                    readDue = true
                case .subscriber(.message(let message)):
                    if UInt64(message.text) != known { readDue = true }
                case .subscriber(.disconnected):
                    break
                case .wrote(let version):
                    if version != known { readDue = true }
                }
                guard readDue, self.client.isConnected else { continue }
                do {
                    try await self.resync()
                    readDue = false
                    lastRead = self.clock.now
                } catch {
                    self.logger.debug("registry read failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            group.cancelAll()
        }
    }

    /// One read: publishes a snapshot with a new version; writes ours back when Redis lost data.
    private func resync() async throws(ClusterError) {
        let snapshot = try await self.readRegistry()
        guard let known = self.current else {
            self.registry.publish(snapshot)
            return
        }
        if snapshot.version > known.version {
            self.registry.publish(snapshot)
        } else if snapshot.version < known.version {
            // Redis lost data (restarted without persistence, or flushed): put ours back, unless
            // a node with a newer snapshot is faster. Either way read again.
            var args = [self.keys.channel, "\(known.version)"]
            for (address, entry) in known.instances.sorted(by: { $0.key < $1.key }) {
                args += [address.description, ClusterJSON.encode(entry)]
            }
            let restored = try await self.eval(ClusterScripts.restore, keys: [self.keys.instances, self.keys.count, self.keys.version], args: args)
            if restored.int == 1 {
                self.logger.warning("Redis had lost the registry; restored this node's snapshot", metadata: ["cluster.version": "\(known.version)"])
            }
            let again = try await self.readRegistry()
            if again.version > known.version { self.registry.publish(again) }
        }
    }
}
