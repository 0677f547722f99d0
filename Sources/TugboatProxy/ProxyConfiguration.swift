import NIOCore
import TugboatCore

/// What the data plane needs from the config, in NIO's units.
public struct ProxyConfiguration: Sendable {
    public var listen: HostPort
    public var balance: BalanceAlgorithm
    public var retries: Int
    public var connectTimeout: TimeAmount
    public var headerTimeout: TimeAmount
    public var requestTimeout: TimeAmount
    public var idleTimeout: TimeAmount
    public var drain: Duration
    public var passiveFailures: Int
    /// Largest request head accepted; larger ones get 431.
    public var maxHeaderBytes: Int = 64 * 1024
    /// Idle upstream connections kept per backend per event loop.
    public var maxIdleUpstreamsPerLoop: Int = 256
    /// Scale to zero: a request that finds no healthy backend waits (bounded by the request
    /// timeout) for one to become ready, instead of getting 503.
    public var holdWhenEmpty: Bool
    /// At most this many requests wait per event loop; more get 503.
    public var maxHeldPerLoop: Int = 1024

    public init(_ config: TugboatConfig) {
        listen = config.listen
        balance = config.pool.balance
        retries = config.pool.retries
        connectTimeout = .init(config.pool.timeouts.connect)
        headerTimeout = .init(config.pool.timeouts.header)
        requestTimeout = .init(config.pool.timeouts.request)
        idleTimeout = .init(config.pool.timeouts.idle)
        drain = config.pool.drain
        passiveFailures = config.pool.passive.failures
        holdWhenEmpty = config.scaling?.min == 0
    }
}

extension TimeAmount {
    init(_ duration: Duration) { self = .nanoseconds(duration.nanoseconds) }
}
