import Logging

/// The pool's membership and backend states: the one place they change.
///
/// Observers (the proxy's data plane, the admin API) receive an immutable ``PoolSnapshot``
/// after every change; every change is also a ``Signal`` and a log line.
package actor Pool {
    private var members: [HostPort: BackendInfo] = [:]
    private var order: [HostPort] = []
    private var version: UInt64 = 0
    private var observers: [@Sendable (PoolSnapshot) -> Void] = []
    private let signals: SignalBus
    private let logger: Logger

    package init(signals: SignalBus, logger: Logger) {
        self.signals = signals
        self.logger = logger
    }

    /// Calls `observer` now with the current snapshot and after every change.
    package func observe(_ observer: @escaping @Sendable (PoolSnapshot) -> Void) {
        observers.append(observer)
        observer(snapshot)
    }

    package var snapshot: PoolSnapshot {
        PoolSnapshot(version: version, backends: order.compactMap { members[$0] })
    }

    /// Adds a backend in `starting` state (no traffic until checks pass). Returns false if present.
    @discardableResult
    package func add(_ address: HostPort, state: BackendState = .starting, reason: String = "added") -> Bool {
        guard members[address] == nil else { return false }
        members[address] = BackendInfo(address: address, state: state, reason: reason)
        order.append(address)
        logger.info("backend added", metadata: ["backend.address": "\(address)", "backend.state": "\(state.rawValue)"])
        signals.publish(.backendAdded(address))
        changed()
        return true
    }

    /// Removes a backend at once (after draining, if the caller drained it).
    @discardableResult
    package func remove(_ address: HostPort) -> Bool {
        guard members.removeValue(forKey: address) != nil else { return false }
        order.removeAll { $0 == address }
        logger.info("backend removed", metadata: ["backend.address": "\(address)"])
        signals.publish(.backendRemoved(address))
        changed()
        return true
    }

    /// Moves a backend to `state`; a no-op when it is already there or unknown.
    package func setState(_ address: HostPort, _ state: BackendState, reason: String) {
        guard var info = members[address], info.state != state else { return }
        // A draining backend only leaves the pool; health results no longer move it.
        if info.state == .draining { return }
        let old = info.state
        info.state = state
        info.reason = reason
        members[address] = info
        let metadata: Logger.Metadata = [
            "backend.address": "\(address)", "backend.from": "\(old.rawValue)",
            "backend.to": "\(state.rawValue)", "reason": "\(reason)",
        ]
        if state == .unhealthy { logger.warning("backend state changed", metadata: metadata) }
        else { logger.info("backend state changed", metadata: metadata) }
        signals.publish(.backendStateChanged(address: address, from: old, to: state, reason: reason))
        changed()
    }

    package func state(of address: HostPort) -> BackendState? { members[address]?.state }

    /// Takes a draining backend back (it was added again before it left): it starts over as
    /// `starting`, so it gets traffic again once its checks pass. False when it is not draining.
    @discardableResult
    package func cancelDrain(_ address: HostPort, reason: String) -> Bool {
        guard var info = members[address], info.state == .draining else { return false }
        info.state = .starting
        info.reason = reason
        members[address] = info
        logger.info("backend state changed", metadata: [
            "backend.address": "\(address)", "backend.from": "\(BackendState.draining)", "backend.to": "\(BackendState.starting)", "reason": "\(reason)",
        ])
        signals.publish(.backendStateChanged(address: address, from: .draining, to: .starting, reason: reason))
        changed()
        return true
    }

    private func changed() {
        version += 1
        let snap = snapshot
        for observer in observers { observer(snap) }
    }
}
