import Synchronization

/// Response bodies that went through a kernel pipe, and their bytes (for /metrics: one atomic
/// add per spliced response, never per byte).
package final class SpliceCounts: Sendable {
    private let responseCount = Atomic<Int>(0)
    private let byteCount = Atomic<Int>(0)

    package init() {}

    package var responses: Int { responseCount.load(ordering: .relaxed) }
    package var bytes: Int { byteCount.load(ordering: .relaxed) }

    func record(bytes: Int) {
        responseCount.add(1, ordering: .relaxed)
        byteCount.add(bytes, ordering: .relaxed)
    }
}
