import Foundation
import Logging
import TugboatCore

/// Follows the EndpointSlices of one Service: list, then watch from the list's resourceVersion
/// (`watch=1&allowWatchBookmarks=true`), reading the chunked answer line by line. A watch the server
/// ends (its `timeoutSeconds`) is resumed at once from the last resourceVersion; a broken one after
/// a backoff; `410 Gone` (answer or ERROR event) lists again. Each change of the endpoints is
/// handed to `onChange`, the first right after the first list.
final class EndpointSliceWatcher: Sendable {
    private let client: KubernetesClient
    private let service: String
    private let portName: String?
    private let logger: Logger
    /// How long the server keeps one watch open (`timeoutSeconds`).
    private let watchSeconds: Int
    private let backoffFirst: Duration
    private let backoffMax: Duration

    init(client: KubernetesClient, service: String, portName: String?, logger: Logger, watchSeconds: Int = 300,
         backoffFirst: Duration = .milliseconds(200), backoffMax: Duration = .seconds(30)) {
        self.client = client
        self.service = service
        self.portName = portName
        self.logger = logger
        self.watchSeconds = watchSeconds
        self.backoffFirst = backoffFirst
        self.backoffMax = backoffMax
    }

    private var collection: String { "/apis/discovery.k8s.io/v1/namespaces/\(client.namespace)/endpointslices" }
    private var selector: String { "labelSelector=kubernetes.io%2Fservice-name%3D\(service)" }

    /// Runs until the task is cancelled.
    func run(onChange: @Sendable ([ServiceEndpoint]) async -> Void) async {
        var index = EndpointSliceIndex(portName: portName)
        var backoff = ReconnectBackoff(initial: backoffFirst, maximum: backoffMax)
        var last: [ServiceEndpoint]?
        func publish(_ index: EndpointSliceIndex) async {
            let now = index.endpoints
            guard now != last else { return }
            last = now
            await onChange(now)
        }
        while !Task.isCancelled {
            do {
                if index.resourceVersion == nil {
                    let data = try await client.send(.GET, "\(collection)?\(selector)", .init(verb: "list", resource: "endpointslices"))
                    guard let list = try? JSONDecoder().decode(EndpointSliceList.self, from: data) else {
                        throw KubernetesConfigError("the EndpointSlice list of service \(service) could not be read")
                    }
                    index.replace(with: list)
                    logger.info("kubernetes: endpointslices listed", metadata: [
                        "kubernetes.service": "\(service)", "kubernetes.slices": "\(list.items.count)",
                        "kubernetes.resourceVersion": "\(index.resourceVersion ?? "")",
                    ])
                    await publish(index)
                }
                let events = try await watch(&index, publish: publish)
                if events > 0 { backoff.reset() }
                if index.resourceVersion == nil { continue }  // 410: list again at once
                if events == 0 { try await Task.sleep(for: backoff.next()) }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                if let failure = error as? KubernetesError, failure.isGone {
                    logger.info("kubernetes: resourceVersion too old (410), listing endpointslices again", metadata: ["kubernetes.service": "\(service)"])
                    index = EndpointSliceIndex(portName: portName)
                    continue
                }
                let delay = backoff.next()
                logger.warning("kubernetes: endpointslice watch broke; resuming", metadata: [
                    "kubernetes.service": "\(service)", "error": "\(ErrorText.short(error))",
                    "kubernetes.resourceVersion": "\(index.resourceVersion ?? "(list again)")", "retry.in": "\(delay)",
                ])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// One watch request from `index.resourceVersion`, until the server ends it or it breaks.
    /// Returns the number of events read.
    private func watch(_ index: inout EndpointSliceIndex, publish: (EndpointSliceIndex) async -> Void) async throws -> Int {
        let version = index.resourceVersion ?? ""
        let path = "\(collection)?\(selector)&watch=1&allowWatchBookmarks=true&resourceVersion=\(version)&timeoutSeconds=\(watchSeconds)"
        let body = try await client.stream(path, .init(verb: "watch", resource: "endpointslices"), timeout: .seconds(Int64(watchSeconds + 30)))
        var pending = [UInt8]()
        var count = 0
        for try await chunk in body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(pending[..<newline])
                pending.removeSubrange(...newline)
                guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0d }) else { continue }
                guard let event = WatchEvent.parse(line) else {
                    logger.warning("kubernetes: unreadable watch line skipped", metadata: ["kubernetes.service": "\(service)"])
                    continue
                }
                count += 1
                switch index.apply(event) {
                case .changed: await publish(index)
                case .unchanged: break
                case .relist(let why):
                    logger.info("kubernetes: watch expired (\(why)), listing endpointslices again", metadata: ["kubernetes.service": "\(service)"])
                    return count
                case .failed(let why):
                    throw KubernetesError(code: 500, message: "watch ERROR event: \(why)", verb: "watch", resource: "endpointslices",
                                          namespace: client.namespace)
                }
            }
        }
        return count
    }
}
