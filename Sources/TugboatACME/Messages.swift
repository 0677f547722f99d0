import Foundation

/// The ACME objects Tugboat reads (RFC 8555 §7.1), decoded leniently: unknown members are
/// ignored, a missing required one is a `ACMEError.malformed`.
enum ACME {
    struct Directory: Decodable, Sendable {
        var newNonce: String
        var newAccount: String
        var newOrder: String
    }

    struct Identifier: Codable, Sendable, Equatable {
        var type: String
        var value: String
    }

    struct Order: Decodable, Sendable {
        var status: String
        var identifiers: [Identifier]?
        var authorizations: [String]
        var finalize: String
        var certificate: String?
        var error: Problem?
    }

    struct Authorization: Decodable, Sendable {
        var status: String
        var identifier: Identifier
        var challenges: [Challenge]
    }

    struct Challenge: Decodable, Sendable {
        var type: String
        var url: String
        var token: String?
        var status: String
        var error: Problem?
    }

    /// RFC 7807 problem document.
    struct Problem: Decodable, Sendable, Equatable, CustomStringConvertible {
        var type: String?
        var detail: String?
        var status: Int?
        var subproblems: [Subproblem]?

        struct Subproblem: Decodable, Sendable, Equatable {
            var type: String?
            var detail: String?
        }

        static let badNonce = "urn:ietf:params:acme:error:badNonce"
        static let rateLimited = "urn:ietf:params:acme:error:rateLimited"
        static let accountDoesNotExist = "urn:ietf:params:acme:error:accountDoesNotExist"

        /// `type: detail` (the ACME prefix dropped), subproblems after it; bounded in length.
        var description: String {
            var text = (type ?? "").replacingOccurrences(of: "urn:ietf:params:acme:error:", with: "")
            if let detail, !detail.isEmpty { text += (text.isEmpty ? "" : ": ") + detail }
            for sub in subproblems ?? [] {
                text += "; " + (sub.type ?? "").replacingOccurrences(of: "urn:ietf:params:acme:error:", with: "") + ": " + (sub.detail ?? "")
            }
            return String(text.prefix(1000))
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from body: Data, what: String) throws(ACMEError) -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw .malformed("\(what): not the expected JSON (\(body.count) bytes)")
        }
    }
}

/// Why an ACME step failed: said in the log and in `/api/certificates` (never with a key).
enum ACMEError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The server answered with a problem document.
    case problem(ACME.Problem, status: Int, retryAfter: Date?)
    /// The server answered something this client cannot use.
    case malformed(String)
    /// The server could not be reached, or did not answer in time.
    case unreachable(String)
    /// The order or an authorization ended `invalid` (with the challenge's problem when given).
    case invalid(String)
    /// Polling gave up.
    case timedOut(String)

    var description: String {
        switch self {
        case .problem(let problem, let status, _): "ACME server answered \(status): \(problem)"
        case .malformed(let what): "ACME server's answer unusable: \(what)"
        case .unreachable(let what): "ACME server unreachable: \(what)"
        case .invalid(let what): "validation failed: \(what)"
        case .timedOut(let what): "gave up waiting: \(what)"
        }
    }

    var retryAfter: Date? {
        if case .problem(_, _, let date) = self { return date }
        return nil
    }

    var isRateLimited: Bool {
        if case .problem(let problem, _, _) = self { return problem.type == ACME.Problem.rateLimited }
        return false
    }
}
