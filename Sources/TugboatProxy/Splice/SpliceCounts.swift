import Synchronization

/// Response bodies that went through a kernel pipe, and their bytes (for /metrics: one atomic
/// add per spliced response, never per byte).
public final class SpliceCounts: Sendable {
    private let responseCount = Atomic<Int>(0)
    private let byteCount = Atomic<Int>(0)

    public init() {}

    public var responses: Int { responseCount.load(ordering: .relaxed) }
    public var bytes: Int { byteCount.load(ordering: .relaxed) }

    func record(bytes: Int) {
        responseCount.add(1, ordering: .relaxed)
        byteCount.add(bytes, ordering: .relaxed)
    }
}
