import NIOCore
import NIOSSL
import NIOTLS

/// HTTP/2 at the front, negotiated by ALPN on the TLS listener. Each stream is an ``HTTP2Stream``
/// (no channel of its own) served by an ordinary ``ProxyHandler``, so streams go to the HTTP/1.1
/// backends through the loop's upstream pools with everything the HTTP/1.1 path does.
///
/// What the connection refuses (``H2ConnectionStateMachine`` and ``H2FrameReader`` do the counting):
/// - a stream beyond `maxConcurrentStreams`: GOAWAY PROTOCOL_ERROR naming the last stream taken
///   (those open finish, then the connection closes);
/// - rapid reset (CVE-2023-44487): more than 200 RST_STREAMs in 30 s, GOAWAY ENHANCE_YOUR_CALM;
/// - CONTINUATION flood (CVE-2024-27316): more than 5 CONTINUATION frames for one header block, or
///   a block above the head limit, GOAWAY ENHANCE_YOUR_CALM;
/// - header lists (HPACK bombs included) decoding to more than the head limit (64 KiB): counted
///   while decoding, connection error; more than 128 fields: 431 like HTTP/1.1;
/// - glitches (PINGs, SETTINGS, empty DATA frames, stream errors) above 200 in 30 s: GOAWAY.
/// On graceful shutdown the connection sends GOAWAY, lets open streams finish, then closes; an
/// idle connection (no stream open) closes after `timeouts.idle`.
enum HTTP2Front {
    static let protocolName = "h2"

    struct Settings: Sendable {
        var maxConcurrentStreams = 100
        /// Per-stream and connection receive windows.
        var windowSize = 65535
        /// A stream stops taking response bytes above this (its upstream pauses).
        var streamHighWatermark = 64 * 1024
        var streamLowWatermark = 16 * 1024
    }

    /// After ALPN: `h2` gets the HTTP/2 pipeline, anything else (or nothing) the HTTP/1.1 handler.
    static func negotiationHandler(loop: LoopContext, settings: Settings, handshakeTimer: Scheduled<Void>) -> ApplicationProtocolNegotiationHandler {
        let loop = NIOLoopBound(loop, eventLoop: loop.eventLoop)
        return ApplicationProtocolNegotiationHandler { result, channel in
            handshakeTimer.cancel()
            let loop = loop.value
            return channel.eventLoop.makeCompletedFuture {
                if case .negotiated(protocolName) = result {
                    try configure(channel, loop: loop, settings: settings)
                } else {
                    try ProxyServer.configureClientPipeline(channel, loop: loop, plainSocket: false)
                }
            }
        }
    }

    static func configure(_ channel: Channel, loop: LoopContext, settings: Settings) throws {
        try channel.pipeline.syncOperations.addHandler(HTTP2Connection(loop: loop, settings: settings))
    }
}
