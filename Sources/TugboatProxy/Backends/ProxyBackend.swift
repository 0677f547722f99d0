import NIOCore
import Synchronization
import TugboatCore

/// A backend as the data plane sees it: a resolved address and lock-free counters shared by all event loops.
package final class ProxyBackend: Sendable {
    package let address: HostPort
    let socketAddress: SocketAddress
    /// Index of this backend's per-loop state (upstream pool, meter row); never reused.
    let slot: Int
    /// Requests currently being served by this backend, across all event loops (least-request reads it).
    let inflight = Atomic<Int>(0)
    /// Live-traffic failures in a row (connect failure or 5xx); reset by any success.
    let consecutiveFailures = Atomic<Int>(0)

    init(address: HostPort, socketAddress: SocketAddress, slot: Int) {
        self.address = address
        self.socketAddress = socketAddress
        self.slot = slot
    }

    package var inflightRequests: Int { inflight.load(ordering: .relaxed) }

    /// Records a failure; returns the new run length.
    @inline(__always)
    func recordFailure() -> Int {
        consecutiveFailures.add(1, ordering: .relaxed).newValue
    }

    @inline(__always)
    func recordSuccess() {
        if consecutiveFailures.load(ordering: .relaxed) != 0 {
            consecutiveFailures.store(0, ordering: .relaxed)
        }
    }
}

/// The immutable list of backends an event loop balances over, swapped whole on every pool change.
struct BackendSet {
    var all: [ProxyBackend] = []
    var eligible: [ProxyBackend] = []
    /// Highest slot in `all`, to size per-loop arrays.
    var slotCount: Int = 0
}
