import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import TugboatCore
import TugboatProxy
import X509

/// Keeps an OCSP response for every certificate the public listener serves (`tls.ocsp-stapling`):
/// asks the responder its certificate names (Authority Information Access) over HTTP, checks the
/// answer (``OCSPMessages``), hands it to the book, whose handshakes staple it, and asks again
/// halfway through its validity (``OCSPRefreshPlan``). A certificate without a responder is left
/// alone; a failed fetch keeps the last good response while it is valid, and is logged and shown in
/// `/api/certificates`; a revoked certificate is never stapled and is logged as an error.
package final class OCSPStapler: Service {
    private let book: CertificateBook
    private let group: EventLoopGroup
    private let logger: Logger
    private let checkEvery: Duration
    private let timeout: TimeAmount
    /// A response larger than this is not an OCSP response for one certificate.
    static let maxResponse = 64 * 1024

    private struct Schedule {
        var due: Date
        var failures = 0
    }

    package init(book: CertificateBook, group: EventLoopGroup, logger: Logger, checkEvery: Duration = .seconds(5),
                 timeout: TimeAmount = .seconds(10)) {
        self.book = book
        self.group = group
        self.logger = logger
        self.checkEvery = checkEvery
        self.timeout = timeout
    }

    package func run() async throws {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: timeout))
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        var schedules: [[UInt8]: Schedule] = [:]
        var warned = Set<[UInt8]>()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let targets = book.stapleTargets
            schedules = schedules.filter { leaf, _ in targets.contains { $0.leaf == leaf } }
            for target in targets where schedules[target.leaf].map({ $0.due <= Date() }) ?? true {
                guard let request = stapleRequest(for: target, warned: &warned) else {
                    schedules[target.leaf] = Schedule(due: .distantFuture)
                    continue
                }
                let now = Date()
                switch await fetch(request, client: client, now: now) {
                case .success(let staple):
                    book.noteStaple(staple, error: nil, forLeaf: target.leaf, at: now)
                    schedules[target.leaf] = Schedule(due: OCSPRefreshPlan.afterGood(thisUpdate: staple.thisUpdate,
                                                                                      nextUpdate: staple.nextUpdate, now: now))
                    logger.info("OCSP response stapled", metadata: metadata(target, ["ocsp.next_update": "\(staple.nextUpdate.map { "\($0)" } ?? "none")"]))
                case .failure(let problem):
                    let failures = (schedules[target.leaf]?.failures ?? 0) + 1
                    let revoked = if case .revoked = problem.check { true } else { false }
                    book.noteStaple(nil, error: problem.description, forLeaf: target.leaf, dropping: revoked, at: now)
                    let retry = OCSPRefreshPlan.afterFailure(failures, now: now)
                    schedules[target.leaf] = Schedule(due: retry, failures: failures)
                    let fields = metadata(target, ["error": "\(problem)", "ocsp.retry_in_seconds": "\(Int(retry.timeIntervalSince(now)))"])
                    if revoked { logger.error("certificate revoked: its OCSP status is not stapled", metadata: fields) }
                    else { logger.warning("OCSP response not fetched: the last good one stays while it is valid", metadata: fields) }
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.checkEvery) }
        }
        try? await client.shutdown()
    }

    /// The responder and the request for a certificate, or nil when none can be made (said once).
    private func stapleRequest(for target: CertificateBook.StapleTarget, warned: inout Set<[UInt8]>) -> (url: String, body: [UInt8], certID: OCSPMessages.CertID, issuer: [UInt8])? {
        let url: String?
        do {
            let leaf = try Certificate(derEncoded: target.leaf)
            url = try leaf.extensions.authorityInformationAccess?.lazy.compactMap { description -> String? in
                guard description.method == .ocspServer, case .uniformResourceIdentifier(let uri) = description.location else { return nil }
                return uri
            }.first
        } catch {
            url = nil
        }
        // A certificate without a responder (Let's Encrypt's since 2025) has nothing to staple.
        guard let url else { return nil }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            warnOnce(target, "its OCSP responder is not an http URL: \(url)", warned: &warned)
            return nil
        }
        guard let issuer = target.issuer else {
            warnOnce(target, "the certificate file holds no issuer certificate after the leaf: OCSP needs it (add the chain)", warned: &warned)
            return nil
        }
        do {
            let certID = try OCSPMessages.CertID(leaf: target.leaf, issuer: issuer)
            return (url, OCSPMessages.request(for: certID), certID, issuer)
        } catch {
            warnOnce(target, "no OCSP request can be made for it (\(error))", warned: &warned)
            return nil
        }
    }

    struct FetchProblem: Error, CustomStringConvertible {
        var description: String
        var check: OCSPMessages.Problem?
    }

    private func fetch(_ request: (url: String, body: [UInt8], certID: OCSPMessages.CertID, issuer: [UInt8]), client: HTTPClient,
                       now: Date) async -> Result<OCSPStaple, FetchProblem> {
        var http = HTTPClientRequest(url: request.url)
        http.method = .POST
        http.headers.add(name: "content-type", value: "application/ocsp-request")
        http.headers.add(name: "accept", value: "application/ocsp-response")
        http.headers.add(name: "user-agent", value: "Tugboat OCSP stapler")
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let bytes: ByteBuffer
        do {
            let (status, body) = try await exchange(http, client: client)
            guard status == .ok else {
                return .failure(FetchProblem(description: "POST \(request.url): HTTP \(status.code)"))
            }
            bytes = body
        } catch is NIOTooManyBytesError {
            return .failure(FetchProblem(description: "POST \(request.url): the answer is larger than \(Self.maxResponse) bytes"))
        } catch {
            return .failure(FetchProblem(description: "POST \(request.url): \(error)"))
        }
        let der = Array(buffer: bytes)
        do {
            let good = try OCSPMessages.check(response: der, certID: request.certID, issuer: request.issuer, now: now)
            return .success(OCSPStaple(der: der, thisUpdate: good.thisUpdate, nextUpdate: good.nextUpdate))
        } catch {
            return .failure(FetchProblem(description: "\(request.url): \(error)", check: error))
        }
    }

    struct NoAnswerInTime: Error, CustomStringConvertible {
        var timeout: TimeAmount
        var description: String { "no complete answer within \(timeout.nanoseconds / 1_000_000_000) s" }
    }

    /// One request and its whole answer within `timeout`: AsyncHTTPClient's deadline ends with the
    /// response head, so a responder dripping its body a byte at a time (each within the read
    /// timeout) would otherwise hold the stapler, and every other certificate's refresh, for hours.
    private func exchange(_ http: HTTPClientRequest, client: HTTPClient) async throws -> (HTTPResponseStatus, ByteBuffer) {
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: (HTTPResponseStatus, ByteBuffer)?.self) { group in
            group.addTask {
                let response = try await client.execute(http, timeout: timeout)
                return (response.status, try await response.body.collect(upTo: Self.maxResponse))
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else { throw NoAnswerInTime(timeout: timeout) }
            return answer
        }
    }

    private func warnOnce(_ target: CertificateBook.StapleTarget, _ reason: String, warned: inout Set<[UInt8]>) {
        guard warned.insert(target.leaf).inserted else { return }
        book.noteStaple(nil, error: reason, forLeaf: target.leaf)
        logger.warning("no OCSP stapling for a certificate", metadata: metadata(target, ["reason": "\(reason)"]))
    }

    private func metadata(_ target: CertificateBook.StapleTarget, _ extra: Logger.Metadata) -> Logger.Metadata {
        extra.merging(["certificate.names": "\(target.names.joined(separator: ","))"]) { $1 }
    }
}
