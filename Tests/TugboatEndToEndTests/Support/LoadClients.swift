import Foundation
import Synchronization

/// Clients sending requests in a loop on their own threads until stopped: some on keep-alive
/// connections (a new connection only after the proxy says `Connection: close`), some on a new
/// connection per request. Nothing is retried: every request that does not get a 200 is a failure,
/// recorded with what happened.
final class LoadClients: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let completed = Atomic<Int>(0)
    private let failureList = Mutex<[String]>([])
    private let running = DispatchGroup()

    init(port: Int, keepAlive: Int, fresh: Int, path: String = "/") {
        for index in 0..<(keepAlive + fresh) {
            running.enter()
            let thread = Thread { [self] in
                defer { running.leave() }
                index < keepAlive ? keepAliveLoop(port: port, path: path) : freshLoop(port: port, path: path)
            }
            thread.start()
        }
    }

    /// Requests answered 200 so far.
    var succeeded: Int { completed.load(ordering: .relaxed) }
    var failures: [String] { failureList.withLock { $0 } }

    /// Stops the clients and waits for the requests in flight.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        running.wait()
    }

    private func keepAliveLoop(port: Int, path: String) {
        var client: TestHTTPClient?
        while !stopping.load(ordering: .relaxed) {
            do {
                let connection = try client ?? TestHTTPClient(port: port)
                client = connection
                let response = try connection.request("GET", path)
                record(response.status, "keep-alive")
                if response.header("connection")?.lowercased() == "close" { client = nil }
            } catch {
                fail("keep-alive request: \(error)")
                client = nil
            }
        }
    }

    private func freshLoop(port: Int, path: String) {
        while !stopping.load(ordering: .relaxed) {
            do {
                record(try TestHTTPClient.get(port: port, path).status, "new connection")
            } catch {
                fail("request on a new connection: \(error)")
            }
        }
    }

    private func record(_ status: Int, _ kind: String) {
        if status == 200 { completed.add(1, ordering: .relaxed) } else { fail("\(kind) request: status \(status)") }
    }

    private func fail(_ what: String) { failureList.withLock { $0.append(what) } }
}
