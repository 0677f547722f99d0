import Testing
@testable import TugboatScaling

/// When another node's Lease may be taken (pure, by this node's clock).
struct LeaseObservationTests {
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64(seconds * 1000)) }
    func held(by holder: String?, renewed: String, version: String) -> LeaseRecord {
        LeaseRecord(holder: holder, durationSeconds: 3, renewTime: renewed, transitions: 1, resourceVersion: version)
    }

    @Test("a lease renewed by its holder is never free; one left unchanged for its duration is")
    func lapses() {
        var observation = LeaseObservation<ContinuousClock.Instant>()
        observation.observe(held(by: "a", renewed: "t1", version: "1"), now: at(0))
        #expect(!observation.isFree(for: "b", now: at(2.9)))
        observation.observe(held(by: "a", renewed: "t2", version: "2"), now: at(2.9))  // renewed: the clock starts again
        #expect(!observation.isFree(for: "b", now: at(5)))
        observation.observe(held(by: "a", renewed: "t2", version: "2"), now: at(5))  // unchanged
        #expect(observation.isFree(for: "b", now: at(5.9)))
    }

    @Test("no lease, an empty holder (given back) or this node's own is free at once")
    func free() {
        var observation = LeaseObservation<ContinuousClock.Instant>()
        #expect(observation.isFree(for: "b", now: at(0)))
        observation.observe(held(by: "", renewed: "t1", version: "4"), now: at(0))
        #expect(observation.isFree(for: "b", now: at(0)))
        observation.observe(held(by: "b", renewed: "t1", version: "5"), now: at(0))
        #expect(observation.isFree(for: "b", now: at(0)))
    }
}
