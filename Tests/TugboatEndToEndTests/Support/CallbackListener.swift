import Foundation
import Hummingbird
import Logging
import Synchronization
import TugboatAlerts
import TugboatCore

@testable import TugboatAdmin

/// A ``PageAcknowledging`` that records who asked and answers like Tugboat would: an open outage
/// is acknowledged once, then already acknowledged; a resolved one is resolved; others unknown.
final class FakeAcknowledger: PageAcknowledging {
    let open: [Int64: String]
    let resolved: [Int64: String]
    private let state = Mutex<(calls: [String], acknowledged: Set<Int64>)>(([], []))

    init(open: [Int64: String] = [:], resolved: [Int64: String] = [:]) {
        self.open = open
        self.resolved = resolved
    }

    /// `code by` for every call, in order.
    var calls: [String] { state.withLock { $0.calls } }

    func acknowledge(code: Int64, by: String) async -> AcknowledgeOutcome {
        state.withLock { state in
            state.calls.append("\(code) by \(by)")
            if let outage = resolved[code] { return .resolved(outage) }
            guard let outage = open[code] else { return .unknown }
            return state.acknowledged.insert(code).inserted ? .acknowledged(outage) : .alreadyAcknowledged(outage)
        }
    }
}

/// Every log line (level, message, metadata), to check what is logged and that no secret is.
final class LogLines: Sendable {
    let lines = Mutex<[String]>([])

    struct Handler: LogHandler {
        let sink: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }

    var all: [String] { lines.withLock { $0 } }
}

/// The admin listener's Twilio callback routes alone, on 127.0.0.1 and a free port, for the time
/// of `body` (which receives the port).
func withCallbackListener(settings: TwilioCallbackSettings, acknowledger: any PageAcknowledging, logs: LogLines,
                          _ body: (Int) async throws -> Void) async throws {
    try await withCallbackListener(callbacks: TwilioCallbacks(settings), acknowledger: acknowledger, logs: logs, body)
}

/// The same, with settings a test replaces while the listener runs (as a config reload does).
func withCallbackListener(callbacks: TwilioCallbacks, acknowledger: any PageAcknowledging, logs: LogLines,
                          _ body: (Int) async throws -> Void) async throws {
    let router = Router()
    AdminServer.addTwilioCallbackRoutes(router, callbacks: callbacks, acknowledger: acknowledger)
    let (ports, bound) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "tugboat"),
        onServerRunning: { channel in
            bound.yield(channel.localAddress?.port ?? 0)
            bound.finish()
        },
        logger: Logger(label: "tugboat.test") { _ in LogLines.Handler(sink: logs) }
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        defer { group.cancelAll() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw TestFailure("the callback listener did not start") }
        try await body(port)
    }
}

/// Runs blocking socket work on a Dispatch thread, so it never holds one of the few threads of
/// the Swift concurrency pool that the listener under test needs too.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

extension ContractServer {
    /// Tugboat's answer to a callback the contract server made on request (`/_contract/reply` or
    /// `/_contract/press`): its HTTP status, body and content type.
    func callBack(_ kind: String, _ fields: [String: String]) async throws -> (status: Int, body: String, contentType: String?) {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self)
        let port = self.port
        let response = try await offThePool {
            try TestHTTPClient(port: port, timeout: 15).request("POST", "/_contract/\(kind)", headers: ["Connection": "close"], body: json)
        }
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard response.status == 200, let status = object?["status"] as? Int else {
            throw TestFailure("/_contract/\(kind) answered \(response.status): \(response.bodyText)")
        }
        return (status, object?["body"] as? String ?? "", object?["content-type"] as? String)
    }
}
