import NIOCore
import TugboatCore
import TugboatNetwork

/// What the data plane needs from the config, in NIO's units.
package struct ProxyConfiguration: Sendable {
    package var listen: HostPort
    package var balance: BalanceAlgorithm
    package var retries: Int
    package var connectTimeout: TimeAmount
    package var headerTimeout: TimeAmount
    package var requestTimeout: TimeAmount
    package var idleTimeout: TimeAmount
    package var drain: Duration
    package var passiveFailures: Int
    /// Limits on request and response heads (64 KiB head → 431, 8 KiB target → 414).
    var headLimits = HeadLimits()
    /// Largest request head accepted; larger ones get 431.
    package var maxHeaderBytes: Int {
        get { headLimits.maxHeadBytes }
        set { headLimits.maxHeadBytes = newValue }
    }
    /// Idle upstream connections kept per backend per event loop at most. A bound for memory and
    /// descriptors only: what a burst left behind is closed in a few purges (``IdleSurplus``), so
    /// the bound is far above what a loop's concurrent requests to one backend reach (HTTP/2:
    /// connections × streams; with 256 here, 500 streams in flight closed and redialled a
    /// connection for nearly every request).
    package var maxIdleUpstreamsPerLoop: Int = 4096
    /// Scale to zero: a request that finds no healthy backend waits (bounded by the request
    /// timeout) for one to become ready, instead of getting 503.
    package var holdWhenEmpty: Bool
    /// At most this many requests wait per event loop; more get 503.
    package var maxHeldPerLoop: Int = 1024
    /// Open client connections at most; more are answered 503 and closed.
    package var maxConnections: Int
    /// Clients whose forwarding headers are kept.
    package var trustedProxies: TrustedProxies
    /// The listener speaks TLS (`tls:`): backends are told `X-Forwarded-Proto: https`.
    package var https: Bool
    /// With `tls:`, ALPN offers `h2` too (`tls.http2`, on by default).
    package var http2: Bool = true
    /// HTTP/2 limits and windows (SETTINGS_MAX_CONCURRENT_STREAMS from `tls.http2-max-streams`).
    var http2Settings = HTTP2Front.Settings()
    /// `threads: auto`: client connections gather on as few event loops as keep up (``LoopSpread``;
    /// on a TLS listener only HTTP/2 connections, placed before their handshake: a TLS connection
    /// cannot change loops after it).
    package var spreadLoops = false
    /// `pool.tls`: connections to the backends speak TLS (set by the caller: making it can fail).
    package var upstreamTLS: BackendTLS?

    /// From the sections it reads: `listen`, `pool`, `max-connections` (nil: from the descriptor
    /// limit), `trusted-proxies`, `tls`; `holdWhenEmpty` is `scaling.min == 0`.
    package init(listen: HostPort = HostPort(host: "127.0.0.1", port: 8080), pool: PoolConfig = PoolConfig(), holdWhenEmpty: Bool = false,
                maxConnections: Int? = nil, trustedProxies: [CIDR] = [], tls: TLSSettings? = nil,
                descriptorLimit: Int = DescriptorLimit.current) {
        self.listen = listen
        balance = pool.balance
        retries = pool.retries
        connectTimeout = .init(pool.timeouts.connect)
        headerTimeout = .init(pool.timeouts.header)
        requestTimeout = .init(pool.timeouts.request)
        idleTimeout = .init(pool.timeouts.idle)
        drain = pool.drain
        passiveFailures = pool.passive.failures
        self.holdWhenEmpty = holdWhenEmpty
        self.maxConnections = maxConnections ?? DescriptorLimit.maxConnections(descriptors: descriptorLimit)
        self.trustedProxies = TrustedProxies(trustedProxies)
        https = tls != nil
        http2 = tls?.http2 ?? true
        http2Settings.maxConcurrentStreams = tls?.http2MaxStreams ?? 100
    }
}

/// `trusted-proxies`, matched against a connection's peer address once, when it is accepted.
package struct TrustedProxies: Sendable {
    let networks: [CIDR]

    init(_ networks: [CIDR]) { self.networks = networks }

    func contains(_ address: SocketAddress) -> Bool {
        guard !networks.isEmpty else { return false }
        let bytes: [UInt8]
        switch address {
        case .v4(let v4): bytes = withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default: return false
        }
        return networks.contains { $0.contains(bytes) }
    }
}

extension TimeAmount {
    init(_ duration: Duration) { self = .nanoseconds(duration.nanoseconds) }
}
