import ContractSupport
import Foundation
import NIOCore
import NIOHTTP1

/// One connection to the contract server.
final class ContractHandler: ChannelInboundHandler {
    typealias InboundIn = WholeRequest
    typealias OutboundOut = HTTPServerResponsePart

    let state: ContractState

    init(state: ContractState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        route(request.head, body: String(buffer: request.body), context: context)
    }

    private func route(_ head: HTTPRequestHead, body: String, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?")[0]
        if providerRoute(head, path: String(path), body: body, context: context) { return }  // ProviderContracts.swift
        switch (head.method, path) {
        case (.GET, "/_contract/requests"):
            let data = (try? JSONEncoder().encode(state.all)) ?? Data()
            respond(context, .ok, String(decoding: data, as: UTF8.self))
        case (.POST, "/_contract/fail"):
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            state.setFailure(mode: object?["mode"] as? String ?? "500", count: object?["count"] as? Int ?? 1,
                             path: object?["path"] as? String, retryAfter: object?["retry-after"] as? String)
            respond(context, .ok, "{}")
        case (.POST, "/_contract/health/up"), (.POST, "/_contract/health/down"):
            state.setHealth(up: path.hasSuffix("/up"))
            respond(context, .ok, "{}")
        case (.GET, "/_contract/health"):
            let up = state.hitHealth()
            respond(context, up ? .ok : .serviceUnavailable, up ? "ok" : "down")
        case (.GET, "/_contract/health/hits"):
            respond(context, .ok, "{\"hits\":\(state.healthHits)}")
        case (.POST, "/_contract/reply"), (.POST, "/_contract/press"):
            callBack(path.hasSuffix("/reply") ? .reply : .press, body: body, context: context)
        case (.POST, "/hook"), (.POST, "/slack"):
            if let failure = state.nextFailure(path: String(path)) { return failSink(failure, path: String(path), body: body, context: context) }
            state.record(.init(time: Date().timeIntervalSince1970, path: String(path), kind: String(path.dropFirst()), status: 200, fields: [:], body: body))
            respond(context, .ok, "ok")
        case (.POST, _) where path.hasPrefix("/2010-04-01/Accounts/"):
            twilio(head, path: String(path), body: body, context: context)
        default:
            respond(context, .notFound, "{\"code\":20404,\"message\":\"The requested resource \(path) was not found\",\"status\":404}")
        }
    }

    /// The documented contract of Calls.json and Messages.json.
    private func twilio(_ head: HTTPRequestHead, path: String, body: String, context: ChannelHandlerContext) {
        let parts = path.split(separator: "/")  // 2010-04-01, Accounts, SID, Calls.json
        let kind = parts.last == "Calls.json" ? "call" : parts.last == "Messages.json" ? "sms" : "?"
        let fields = Self.parseForm(body)
        func refuse(_ status: HTTPResponseStatus, _ code: Int, _ message: String) {
            state.record(.init(time: Date().timeIntervalSince1970, path: path, kind: kind, status: Int(status.code), fields: fields, error: "\(code): \(message)"))
            respond(context, status, "{\"code\":\(code),\"message\":\"\(message)\",\"more_info\":\"https://www.twilio.com/docs/errors/\(code)\",\"status\":\(status.code)}")
        }
        let expected = "Basic " + Data("\(state.accountSID):\(state.authToken)".utf8).base64EncodedString()
        guard head.headers["authorization"].first == expected else { return refuse(.unauthorized, 20003, "Authenticate") }
        guard parts.count == 4, parts[2] == state.accountSID, kind != "?" else {
            return refuse(.notFound, 20404, "The requested resource \(path) was not found")
        }
        guard head.headers["content-type"].first?.hasPrefix("application/x-www-form-urlencoded") == true else {
            return refuse(.badRequest, 400, "Content-Type must be application/x-www-form-urlencoded")
        }
        if let failure = state.nextFailure() {
            switch failure {
            case "timeout":
                state.record(.init(time: Date().timeIntervalSince1970, path: path, kind: kind, status: 0, fields: fields, error: "held without answer"))
                return  // never answer; the client must time out
            case "429": return refuse(.tooManyRequests, 20429, "Too Many Requests")
            case "400": return refuse(.badRequest, 21211, "The 'To' number \(fields["To"] ?? "") is not a valid phone number.")
            case "401": return refuse(.unauthorized, 20003, "Authenticate")
            default: return refuse(.internalServerError, 20500, "Internal Server Error")
            }
        }
        guard let to = fields["To"], Self.isE164(to) else {
            return refuse(.badRequest, 21211, "The 'To' number \(fields["To"] ?? "") is not a valid phone number.")
        }
        guard let from = fields["From"], Self.isE164(from) else { return refuse(.badRequest, 21212, "The 'From' number is not valid.") }
        _ = from
        if kind == "call" {
            guard let twiml = fields["Twiml"] ?? fields["Url"] else { return refuse(.badRequest, 21205, "Url or Twiml is required.") }
            guard twiml.count <= 4000 else { return refuse(.badRequest, 21623, "Twiml is over 4000 characters.") }
            guard fields["Url"] != nil || (twiml.hasPrefix("<Response>") && twiml.hasSuffix("</Response>")) else {
                return refuse(.badRequest, 12100, "Document parse failure")
            }
            if let problem = TwilioCallback.gatherProblem(twiml) { return refuse(.badRequest, 12100, "Document parse failure: \(problem)") }
        } else {
            guard let text = fields["Body"], !text.isEmpty else { return refuse(.badRequest, 21602, "Message body is required.") }
            guard text.count <= 1600 else { return refuse(.badRequest, 21617, "The concatenated message body exceeds the 1600 character limit.") }
        }
        let sid = state.nextSID(prefix: kind == "call" ? "CA" : "SM")
        state.record(.init(time: Date().timeIntervalSince1970, path: path, kind: kind, status: 201, fields: fields.merging(["Sid": sid]) { $1 }))
        respond(context, .created, "{\"sid\":\"\(sid)\",\"account_sid\":\"\(state.accountSID)\",\"to\":\"\(to)\",\"status\":\"queued\"}")
    }

    /// A sink told to fail: held without an answer, or answered 429, 503 or 500.
    private func failSink(_ mode: String, path: String, body: String, context: ChannelHandlerContext) {
        let status: HTTPResponseStatus = switch mode {
        case "timeout": .init(statusCode: 0)
        case "429": .tooManyRequests
        case "503": .serviceUnavailable
        default: .internalServerError
        }
        state.record(.init(time: Date().timeIntervalSince1970, path: path, kind: String(path.dropFirst()), status: Int(status.code),
                           fields: [:], body: body, error: mode == "timeout" ? "held without answer" : mode))
        if mode != "timeout" { respond(context, status, "{\"error\":\"injected \(mode)\"}") }
    }

    static func isE164(_ number: String) -> Bool {
        number.hasPrefix("+") && (8...16).contains(number.count) && number.dropFirst().allSatisfy(\.isNumber)
    }

    static func parseForm(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            fields[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return fields
    }

    /// A JSON object as the answer (sorted keys).
    func respondJSON(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        respond(context, status, String(decoding: data, as: UTF8.self))
    }

    func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String) {
        let buffer = context.channel.allocator.buffer(string: text)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(buffer.readableBytes))
        if [.tooManyRequests, .serviceUnavailable].contains(status), let retryAfter = state.retryAfter {
            headers.add(name: "retry-after", value: retryAfter)
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
