import Testing
@testable import TugboatProxy

/// `threads: auto` on a TLS listener: where a new HTTP/2 connection starts (it never moves after).
@Suite("HTTP/2 placement: where a TLS listener's HTTP/2 connections start")
struct HTTP2PlacementTests {
    @Test("one active loop takes every new HTTP/2 connection, up to the burst a sample; then the next loops in order; then the emptiest")
    func gathersThenSpreadsABurst() {
        let spread = LoopSpread(loopCount: 3)
        #expect(spread.active == 1)
        #expect(spread.http2Placement(connections: [50, 0, 0], placedSinceSample: [10, 0, 0], burst: 64) == 0)
        #expect(spread.http2Placement(connections: [64, 0, 0], placedSinceSample: [64, 0, 0], burst: 64) == 1,
                "a burst past what loop 0 may take before its next sample")
        #expect(spread.http2Placement(connections: [64, 64, 0], placedSinceSample: [64, 64, 0], burst: 64) == 2)
        #expect(spread.http2Placement(connections: [80, 70, 64], placedSinceSample: [64, 64, 64], burst: 64) == 2,
                "every loop took its burst: the one with the fewest")
        #expect(spread.http2Placement(connections: [500, 0, 0], placedSinceSample: [0, 0, 0], burst: 64) == 0,
                "many connections taken over time stay gathered while the loop keeps up")
    }

    @Test("with two loops active, the one with fewer connections takes the next")
    func fewestOfTheActive() {
        var spread = LoopSpread(loopCount: 3)
        for _ in 0..<2 { _ = spread.observe(busy: [1, 0, 0]) }
        #expect(spread.active == 2)
        #expect(spread.http2Placement(connections: [10, 4, 0], placedSinceSample: [0, 0, 0]) == 1)
        #expect(spread.http2Placement(connections: [3, 4, 0], placedSinceSample: [0, 0, 0]) == 0)
        #expect(spread.http2Placement(connections: [3, 4, 0], placedSinceSample: [LoopSpread.http2Burst, 0, 0]) == 1)
    }

    @Test("the spreader counts each placement until the connection closes, restarts the burst at each loop's sample, and never moves a TLS connection")
    func spreaderOverTLS() {
        let spreader = LoopSpreader(spread: LoopSpread(loopCount: 2), movesConnections: false, busyOverride: { _ in 0 })
        for _ in 0..<LoopSpread.http2Burst { #expect(spreader.placeHTTP2(arrivingOn: 1, mayMove: true) == 0) }
        #expect(spreader.placeHTTP2(arrivingOn: 1, mayMove: true) == 1, "loop 0 took its burst")
        #expect(spreader.placeHTTP2(arrivingOn: 0, mayMove: false) == 0, "a connection that may not move stays (and counts) where it was accepted")
        #expect(spreader.http2Connections(onLoop: 0) == LoopSpread.http2Burst + 1 && spreader.http2Connections(onLoop: 1) == 1)
        #expect(spreader.report(loop: 0, busy: 0.2) == nil)
        #expect(spreader.placeHTTP2(arrivingOn: 1, mayMove: true) == 0, "loop 0's sample starts its burst over")
        spreader.http2Closed(onLoop: 1)
        #expect(spreader.http2Connections(onLoop: 1) == 0)

        // HTTP/1.1 connections over TLS on the inactive loop are counted, but never asked to move.
        for _ in 0..<4 { spreader.connectionOpened(onLoop: 1) }
        #expect(spreader.report(loop: 0, busy: 0.2) == nil)
        #expect(spreader.report(loop: 1, busy: 0.2) == nil)
        let plain = LoopSpreader(spread: LoopSpread(loopCount: 2), busyOverride: { _ in 0 })
        for _ in 0..<4 { plain.connectionOpened(onLoop: 1) }
        #expect(plain.report(loop: 0, busy: 0.2) == nil)
        #expect(plain.report(loop: 1, busy: 0.2) == .init(count: 4, to: 0), "a plain listener's would")
    }
}
