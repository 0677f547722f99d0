import Logging
import TugboatCore
import TugboatRedis

extension ClusterNode {
    typealias Lease = LeaseStateMachine<ContinuousClock.Instant>

    /// How often the lease loop looks at the clock.
    static var leaseTick: Duration { .milliseconds(50) }

    /// Drives `LeaseStateMachine`: ticks, performs its actions, feeds results back. Returns
    /// after a graceful shutdown (lease released) or on cancellation.
    func leaseLoop() async {
        var machine = Lease(timing: self.timing, now: self.clock.now)
        let inputs = self.leaseContinuation
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.leaseTick)
                    inputs.yield(.tick)
                }
            }
            for await event in self.leaseInputs {
                if event != .shutdown, self.state.withLock({ $0.leaseFrozen }) { continue }
                for action in machine.event(event, now: self.clock.now) {
                    switch action {
                    case .acquire:
                        group.addTask { inputs.yield(await self.acquire()) }
                    case .renew(let epoch):
                        group.addTask { inputs.yield(await self.renew(epoch: epoch)) }
                    case .release(let epoch):
                        if machine.isStopped {
                            await self.release(epoch: epoch)
                        } else {
                            group.addTask { await self.release(epoch: epoch) }
                        }
                    case .elected(let epoch):
                        self.state.withLock { state in
                            state.leaderEpoch = epoch
                            state.highestEpoch = max(state.highestEpoch, epoch)
                            state.holder = self.nodeID
                        }
                        self.logger.notice("elected leader", metadata: ["cluster.epoch": "\(epoch)"])
                        self.leadership.publish(.elected(epoch: epoch))
                    case .steppedDown(let reason):
                        self.stepDown(reason)
                    }
                }
                if machine.isStopped { break }
            }
            group.cancelAll()
        }
        // Cancelled while leading: stop acting as leader (the lease expires on its own).
        if self.isLeader { self.stepDown(.shutdown) }
    }

    private func stepDown(_ reason: StepDownReason) {
        self.state.withLock { state in
            state.leaderEpoch = nil
            if state.holder == self.nodeID { state.holder = nil }
        }
        self.logger.warning("stepped down as leader", metadata: ["cluster.reason": "\(reason)"])
        self.leadership.publish(.steppedDown(reason))
    }

    private func acquire() async -> Lease.Event {
        let sentAt = self.clock.now
        let floor = self.state.withLock { $0.highestEpoch }
        do {
            let reply = try await self.client.evalScript(
                ClusterScripts.acquire, keys: [self.keys.leader, self.keys.epoch],
                args: [self.nodeID, "\(self.timing.ttl.milliseconds)", "\(floor)"]
            )
            guard let values = reply.array, values.count == 3, let won = values[0].int, let epoch = values[1].int, epoch >= 0 else {
                return .requestFailed("unexpected acquire reply \(reply)")
            }
            let holder = values[2].string
            self.state.withLock { state in
                state.highestEpoch = max(state.highestEpoch, UInt64(epoch))
                if state.leaderEpoch == nil { state.holder = holder }
            }
            return won == 1 ? .acquired(epoch: UInt64(epoch), sentAt: sentAt) : .acquireRefused
        } catch {
            self.state.withLock { state in
                if state.leaderEpoch == nil { state.holder = nil }
            }
            return .requestFailed(error.description)
        }
    }

    private func renew(epoch: UInt64) async -> Lease.Event {
        let sentAt = self.clock.now
        do {
            let reply = try await self.client.evalScript(
                ClusterScripts.renew, keys: [self.keys.leader, self.keys.epoch],
                args: [self.nodeID, "\(self.timing.ttl.milliseconds)", "\(epoch)"]
            )
            return reply.int == 1 ? .renewed(sentAt: sentAt) : .renewRefused
        } catch {
            self.logger.debug("lease renewal failed", metadata: ["error": "\(error)"])
            return .requestFailed(error.description)
        }
    }

    func release(epoch: UInt64) async {
        do {
            _ = try await self.client.evalScript(ClusterScripts.release, keys: [self.keys.leader], args: [self.nodeID])
        } catch {
            self.logger.debug("lease release failed (it expires on its own)", metadata: ["error": "\(error)", "cluster.epoch": "\(epoch)"])
        }
    }

    /// Test hook: freeze (or thaw) the lease loop as if the process were stopped: no renewals,
    /// no local step-down.
    func freezeLease(_ frozen: Bool) {
        self.state.withLock { $0.leaseFrozen = frozen }
    }
}
