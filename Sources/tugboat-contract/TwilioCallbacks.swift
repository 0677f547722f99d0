import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TugboatCore

/// Twilio calling Tugboat back, on demand:
///
///     POST /_contract/reply {"url", "from", "to", "body", "signature"}
///     POST /_contract/press {"url", "digits", "from", "to", "signature"}
///
/// `reply` posts an incoming SMS (Twilio's messaging webhook fields) to `url`, `press` the call's
/// `<Gather>` result (the voice fields of an outbound-api call: `From` is Tugboat's number, `To`
/// the person). Both are form-encoded and signed as Twilio signs (`X-Twilio-Signature`) with this
/// server's auth token. `signature`: `valid` (the default), `wrong` (another token) or `missing`.
/// Optional: `signed-url` (the URL Twilio believes it requested, e.g. `alerts.public-url` + path,
/// when that differs from `url`), `account-sid` (instead of this server's), `direction`.
/// The control call answers `{"status": <Tugboat's HTTP status>, "body": "<its body>",
/// "content-type": …}`, or 502
/// `{"error": …}` when Tugboat could not be reached.
enum TwilioCallback: String {
    case reply, press

    struct Request: Sendable {
        let url: String
        let signedURL: String
        let fields: [(name: String, value: String)]
        let signature: String?

        init(_ callback: TwilioCallback, json: String, state: ContractState) throws(CallbackError) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
                throw CallbackError("the body must be a JSON object")
            }
            func text(_ key: String, _ fallback: String) -> String { object[key] as? String ?? fallback }
            guard let url = object["url"] as? String, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw CallbackError("'url' must be an http:// or https:// URL")
            }
            self.url = url
            signedURL = text("signed-url", url)
            let account = text("account-sid", state.accountSID)
            switch callback {
            case .reply:
                let sid = state.nextSID(prefix: "SM")
                let from = text("from", "+15550100001"), to = text("to", "+15550100000")
                fields = [
                    ("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid), ("SmsStatus", "received"),
                    ("Body", text("body", "")), ("To", to), ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", account),
                    ("From", from), ("FromCountry", "US"), ("ApiVersion", "2010-04-01"),
                ]
            case .press:
                let sid = state.nextSID(prefix: "CA")
                let from = text("from", "+15550100000"), to = text("to", "+15550100001")
                fields = [
                    ("AccountSid", account), ("ApiVersion", "2010-04-01"), ("CallSid", sid), ("CallStatus", "in-progress"),
                    ("Called", to), ("Caller", from), ("Direction", text("direction", "outbound-api")), ("Digits", text("digits", "")),
                    ("FinishedOnKey", ""), ("From", from), ("To", to), ("msg", "Gather End"),
                ]
            }
            switch text("signature", "valid") {
            case "valid": signature = Self.sign(url: signedURL, fields: fields, token: state.authToken)
            case "wrong": signature = Self.sign(url: signedURL, fields: fields, token: state.authToken + "-not-this-one")
            case "missing": signature = nil
            default: throw CallbackError("'signature' is valid, wrong or missing")
            }
        }

        /// Twilio's documented algorithm, written out here rather than borrowed from Tugboat: the
        /// URL, then each parameter's name and value sorted by name; HMAC-SHA1 with the token; base64.
        static func sign(url: String, fields: [(name: String, value: String)], token: String) -> String {
            let sorted = fields.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
            let text = url + sorted.map { $0.name + $0.value }.joined()
            return Data(HMACSHA1.authenticationCode(key: Array(token.utf8), message: Array(text.utf8))).base64EncodedString()
        }

        /// Posts the callback; Tugboat's status, body and content type.
        func send() async throws -> Answer {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
            request.headers.add(name: "User-Agent", value: "TwilioProxy/1.1")
            if let signature { request.headers.add(name: TwilioSignature.header, value: signature) }
            request.body = .bytes(ByteBuffer(string: FormFields.encode(fields)))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            return Answer(status: Int(response.status.code), body: String(buffer: body),
                          contentType: response.headers.first(name: "content-type") ?? "")
        }
    }

    struct Answer: Sendable {
        var status: Int
        var body: String
        var contentType: String
    }

    struct CallbackError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Why Twilio would refuse a `<Gather>` in a call's TwiML, or nil: it needs an absolute
    /// `action` (there is no document URL to resolve a relative one against), a one-or-more digit
    /// `numDigits`, and a closing tag.
    static func gatherProblem(_ twiml: String) -> String? {
        guard let open = twiml.range(of: "<Gather") else { return nil }
        guard let end = twiml[open.upperBound...].firstIndex(of: ">") else { return "unterminated <Gather>" }
        let attributes = twiml[open.upperBound..<end]
        guard attributes.contains("action=\"http://") || attributes.contains("action=\"https://") else {
            return "<Gather> needs an absolute action URL"
        }
        if let digits = attributes.range(of: "numDigits=\"") {
            guard attributes[digits.upperBound...].prefix(while: \.isNumber).count > 0 else { return "numDigits must be a number" }
        }
        guard twiml.contains("</Gather>") else { return "<Gather> is not closed" }
        return nil
    }
}

extension ContractHandler {
    /// `POST /_contract/reply` and `/_contract/press` (see ``TwilioCallback``).
    func callBack(_ callback: TwilioCallback, body: String, context: ChannelHandlerContext) {
        let request: TwilioCallback.Request
        do {
            request = try TwilioCallback.Request(callback, json: body, state: state)
        } catch {
            return respondJSON(context, .badRequest, ["error": error.description])
        }
        let state = self.state
        let promise = context.eventLoop.makePromise(of: TwilioCallback.Answer.self)
        promise.completeWithTask { try await request.send() }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { result in
            let (handler, context) = bound.value
            let fields = Dictionary(request.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            switch result {
            case .success(let answer):
                state.record(.init(time: Date().timeIntervalSince1970, path: request.url, kind: callback.rawValue,
                                   status: answer.status, fields: fields, body: answer.body))
                handler.respondJSON(context, .ok, ["status": answer.status, "body": answer.body, "content-type": answer.contentType])
            case .failure(let error):
                state.record(.init(time: Date().timeIntervalSince1970, path: request.url, kind: callback.rawValue,
                                   status: 0, fields: fields, error: "\(error)"))
                handler.respondJSON(context, .badGateway, ["error": "\(request.url) did not answer: \(error)"])
            }
        }
    }
}
