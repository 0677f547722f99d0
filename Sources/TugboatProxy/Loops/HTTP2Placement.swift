/// `threads: auto` on a TLS listener with HTTP/2: which event loop a new HTTP/2 connection starts on.
///
/// A TLS connection cannot move once its handshake has begun (its TLS state belongs to its loop),
/// so the plain listener's way of gathering (moving connections between requests) does not apply.
/// What can be chosen is where each connection starts: the ClientHello says whether it will speak
/// HTTP/2 (ALPN) before the handshake, and its socket can still go to another loop then. HTTP/2
/// connections gather on the loops ``LoopSpread`` keeps active, fewest first: one connection
/// multiplexes many streams, so one loop gets many requests a wake-up, and on a machine the proxy
/// shares with its load a second loop mostly adds contention (measured with `h2load -c50 -m10` on
/// the 2-core machine: one loop 48,705 req/s, p99 18.1 ms; two 44,993, 20.0 — HAProxy's best there
/// is `nbthread 1` too). HTTP/1.1 connections over TLS stay where they were accepted (dealt to
/// every loop in turn): each brings one request a wake-up, and kept-alive TLS needs both loops
/// here (38,927 against 30,287 req/s at one).
///
/// A burst is not piled on one loop before the next sample can show its load: a loop takes at most
/// `burst` new connections between two of its samples, and past that the next loops take them, in
/// order (a reconnect storm after a restart spreads at once); when every loop has, the one with the
/// fewest connections.
extension LoopSpread {
    static let http2Burst = 64

    /// The loop for a new HTTP/2 connection, from the HTTP/2 connections each loop carries and how
    /// many each took since its last sample.
    func http2Placement(connections: [Int], placedSinceSample: [Int], burst: Int = Self.http2Burst) -> Int {
        precondition(connections.count == loopCount && placedSinceSample.count == loopCount)
        let hasRoom = { (index: Int) in placedSinceSample[index] < burst }
        if let fewest = (0..<active).filter(hasRoom).min(by: { connections[$0] < connections[$1] }) { return fewest }
        if let next = (active..<loopCount).first(where: hasRoom) { return next }
        return (0..<loopCount).min { connections[$0] < connections[$1] }!
    }
}
