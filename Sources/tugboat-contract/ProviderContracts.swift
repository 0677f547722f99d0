import Foundation
import NIOCore
import NIOHTTP1

/// The documented contracts of PagerDuty's Events API v2 and Opsgenie's Alert API:
///
///     POST /v2/enqueue                                              PagerDuty (routing_key in the body)
///     POST /v2/alerts                                               Opsgenie create   (Authorization: GenieKey …)
///     POST /v2/alerts/{alias}/acknowledge?identifierType=alias      Opsgenie acknowledge
///     POST /v2/alerts/{alias}/close?identifierType=alias            Opsgenie close
///
/// Each request is recorded (kind `pagerduty`, `opsgenie-create`, `opsgenie-ack`, `opsgenie-close`,
/// the raw JSON in `body`), and `/_contract/fail` applies after authentication, as for Twilio.
extension ContractHandler {
    /// Answers the request if it is one of the routes above; false leaves it to the other routes.
    func providerRoute(_ head: HTTPRequestHead, path: String, body: String, context: ChannelHandlerContext) -> Bool {
        guard head.method == .POST, path.hasPrefix("/v2/") else { return false }
        let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        if path == "/v2/enqueue" {
            pagerDuty(head, path: path, body: body, context: context)
        } else if path == "/v2/alerts" || path.hasPrefix("/v2/alerts/") {
            opsgenie(head, path: path, query: query, body: body, context: context)
        } else {
            return false
        }
        return true
    }

    // MARK: - PagerDuty

    private func pagerDuty(_ head: HTTPRequestHead, path: String, body: String, context: ChannelHandlerContext) {
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        let payload = object?["payload"] as? [String: Any]
        var fields: [String: String] = [:]
        for key in ["event_action", "dedup_key"] { fields[key] = object?[key] as? String }
        for key in ["summary", "source", "severity"] { fields["payload.\(key)"] = payload?[key] as? String }
        func answer(_ status: HTTPResponseStatus, _ json: [String: Any], error: String? = nil) {
            record(path: path, kind: "pagerduty", status: status, fields: fields, body: body, error: error)
            respondJSON(context, status, json)
        }
        func invalid(_ errors: [String]) {
            answer(.badRequest, ["status": "invalid event", "message": "Event object is invalid", "errors": errors],
                   error: errors.joined(separator: "; "))
        }
        guard head.headers["content-type"].first?.hasPrefix("application/json") == true else {
            return invalid(["Content-Type must be application/json"])
        }
        guard let object else { return invalid(["Event object is not valid JSON"]) }
        guard object["routing_key"] as? String == state.pagerDutyKey else { return invalid(["Invalid routing key"]) }
        if let failure = state.nextFailure() {
            switch failure {
            case "timeout": return record(path: path, kind: "pagerduty", status: .init(statusCode: 0), fields: fields, body: body, error: "held without answer")
            case "429": return answer(.tooManyRequests, ["status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."], error: "429")
            case "400", "401": return invalid(["Injected failure: event refused"])
            default: return answer(.internalServerError, ["status": "error", "message": "Internal Server Error"], error: "500")
            }
        }
        let action = object["event_action"] as? String ?? ""
        guard ["trigger", "acknowledge", "resolve"].contains(action) else {
            return invalid(["'event_action' must be one of trigger, acknowledge, resolve"])
        }
        let dedupKey = object["dedup_key"] as? String
        if let dedupKey, dedupKey.isEmpty || dedupKey.count > 255 { return invalid(["'dedup_key' must be 1 to 255 characters"]) }
        if action != "trigger" && dedupKey == nil { return invalid(["'dedup_key' is required for \(action) events"]) }
        if action == "trigger" {
            guard let payload else { return invalid(["'payload' is required for trigger events"]) }
            var errors: [String] = []
            let summary = payload["summary"] as? String ?? ""
            if summary.isEmpty || summary.count > 1024 { errors.append("'payload.summary' must be 1 to 1024 characters") }
            if (payload["source"] as? String ?? "").isEmpty { errors.append("'payload.source' is required") }
            if !["critical", "error", "warning", "info"].contains(payload["severity"] as? String ?? "") {
                errors.append("'payload.severity' must be one of critical, error, warning, info")
            }
            if let details = payload["custom_details"], !(details is [String: Any]) { errors.append("'payload.custom_details' must be an object") }
            guard errors.isEmpty else { return invalid(errors) }
        }
        let key = dedupKey ?? UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        fields["dedup_key"] = key
        answer(.accepted, ["status": "success", "message": "Event processed", "dedup_key": key])
    }

    // MARK: - Opsgenie

    private func opsgenie(_ head: HTTPRequestHead, path: String, query: String, body: String, context: ChannelHandlerContext) {
        let parts = path.split(separator: "/").map(String.init)  // v2, alerts[, alias, action]
        let kind: String
        switch (parts.count, parts.last) {
        case (2, _): kind = "opsgenie-create"
        case (4, "acknowledge"): kind = "opsgenie-ack"
        case (4, "close"): kind = "opsgenie-close"
        default: kind = "opsgenie-unknown"
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        var fields: [String: String] = [:]
        for (key, value) in object ?? [:] { if let text = value as? String { fields[key] = text } }
        if parts.count == 4 { fields["identifier"] = parts[2].removingPercentEncoding ?? parts[2] }
        let requestID = UUID().uuidString.lowercased()
        func answer(_ status: HTTPResponseStatus, _ json: [String: Any], error: String? = nil) {
            var json = json
            json["took"] = 0.01
            json["requestId"] = requestID
            if status == .accepted { fields["requestId"] = requestID }
            record(path: path, kind: kind, status: status, fields: fields, body: body, error: error)
            respondJSON(context, status, json)
        }
        func unprocessable(_ errors: [String: String]) {
            answer(.unprocessableEntity, ["message": "Request body is not processable. Please check the errors.", "errors": errors],
                   error: errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))
        }
        guard head.headers["authorization"].first == "GenieKey \(state.opsgenieKey)" else {
            return answer(.unauthorized, ["message": "Could not authenticate"], error: "401")
        }
        guard kind != "opsgenie-unknown" else { return answer(.notFound, ["message": "No such endpoint: \(path)"], error: "404") }
        guard head.headers["content-type"].first?.hasPrefix("application/json") == true, let object else {
            return answer(.badRequest, ["message": "Could not parse request body: a JSON object is required"], error: "400")
        }
        if let failure = state.nextFailure() {
            switch failure {
            case "timeout": return record(path: path, kind: kind, status: .init(statusCode: 0), fields: fields, body: body, error: "held without answer")
            case "429": return answer(.tooManyRequests, ["message": "You are making too many requests! To avoid errors, we recommend you limit requests."], error: "429")
            case "400": return answer(.badRequest, ["message": "Injected failure: request refused"], error: "400")
            case "401": return answer(.unauthorized, ["message": "Could not authenticate"], error: "401")
            case "422": return unprocessable(["message": "Injected failure"])
            default: return answer(.internalServerError, ["message": "Internal Server Error"], error: "500")
            }
        }
        if kind == "opsgenie-create" {
            var errors: [String: String] = [:]
            let message = object["message"] as? String ?? ""
            if message.isEmpty { errors["message"] = "Message can not be empty." }
            if message.count > 130 { errors["message"] = "Message can not be longer than 130 characters." }
            if let alias = object["alias"] { if (alias as? String)?.count ?? 513 > 512 { errors["alias"] = "Alias can not be longer than 512 characters." } }
            if let description = object["description"] {
                if (description as? String)?.count ?? 15001 > 15000 { errors["description"] = "Description can not be longer than 15000 characters." }
            }
            if let priority = object["priority"], !["P1", "P2", "P3", "P4", "P5"].contains(priority as? String ?? "") {
                errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]."
            }
            if let details = object["details"], !(details is [String: String]) { errors["details"] = "Details must be a map of strings." }
            guard errors.isEmpty else { return unprocessable(errors) }
        } else {
            let parameters = Self.parseForm(query)
            guard parameters["identifierType"] == "alias" else {
                return unprocessable(["identifierType": "this contract server knows alerts by alias only (identifierType=alias)"])
            }
            if let source = object["source"], (source as? String)?.count ?? 101 > 100 { return unprocessable(["source": "Source can not be longer than 100 characters."]) }
            if let note = object["note"], (note as? String)?.count ?? 25001 > 25000 { return unprocessable(["note": "Note can not be longer than 25000 characters."]) }
        }
        answer(.accepted, ["result": "Request will be processed"])
    }

    // MARK: - Helpers

    private func record(path: String, kind: String, status: HTTPResponseStatus, fields: [String: String], body: String, error: String?) {
        state.record(.init(time: Date().timeIntervalSince1970, path: path, kind: kind, status: Int(status.code), fields: fields,
                           body: body, error: error))
    }
}
