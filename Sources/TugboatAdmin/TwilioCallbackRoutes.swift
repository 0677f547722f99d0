import Hummingbird
import Logging
import NIOCore
import TugboatAlerts
import TugboatCore

/// What the Twilio callbacks need from the config: the URL Twilio reaches the admin listener at
/// (`alerts.public-url`, which the signatures cover), the accounts whose auth tokens sign, and the
/// numbers Tugboat pages (only they may acknowledge by SMS).
package struct TwilioCallbackSettings: Sendable {
    package struct Account: Sendable {
        package var accountSID: String
        package var authToken: Secret
        package init(accountSID: String, authToken: Secret) {
            self.accountSID = accountSID
            self.authToken = authToken
        }
    }

    package var publicURL: String?
    package var accounts: [Account]
    package var recipients: Set<String>

    package init(publicURL: String? = nil, accounts: [Account] = [], recipients: Set<String> = []) {
        self.publicURL = publicURL
        self.accounts = accounts
        self.recipients = recipients
    }

    /// From `alerts:`: every `twilio-call` and `twilio-sms` channel.
    package init(alerts: AlertsConfig) {
        self.init(publicURL: alerts.publicURL)
        for name in alerts.channels.keys.sorted() {
            switch alerts.channels[name] {
            case .twilioCall(let twilio)?, .twilioSMS(let twilio)?:
                if !accounts.contains(where: { $0.accountSID == twilio.accountSID && $0.authToken == twilio.authToken }) {
                    accounts.append(Account(accountSID: twilio.accountSID, authToken: twilio.authToken))
                }
                recipients.formUnion(twilio.to)
            default: continue
            }
        }
    }
}

/// Acknowledging from the phone. Open routes (no bearer token): each request must carry Twilio's
/// `X-Twilio-Signature` over `alerts.public-url` + its path and query + its form fields, made
/// with the auth token of a configured account whose SID is the request's `AccountSid`.
/// - `POST /api/twilio/sms` — Twilio's incoming-message webhook: `ACK 12` acknowledges outage 12
///   for the sender (`From`); the answer is an SMS back (`<Message>`).
/// - `POST /api/twilio/voice?code=12` — the call's `<Gather>` action: `Digits` 1 acknowledges.
/// A request that fails the check gets 403 and a warning in the log (never the token or signature).
extension AdminServer {
    static let twilioBodyLimit = 64 << 10

    static func addTwilioCallbackRoutes(_ router: Router<BasicRequestContext>, state: AdminState) {
        addTwilioCallbackRoutes(router, callbacks: state.twilioCallbacks, acknowledger: state.acknowledger)
    }

    static func addTwilioCallbackRoutes(_ router: Router<BasicRequestContext>, settings: TwilioCallbackSettings,
                                        acknowledger: (any PageAcknowledging)?) {
        addTwilioCallbackRoutes(router, callbacks: TwilioCallbacks(settings), acknowledger: acknowledger)
    }

    /// The settings are read per request: a reload's new accounts and numbers apply to the next callback.
    static func addTwilioCallbackRoutes(_ router: Router<BasicRequestContext>, callbacks: TwilioCallbacks,
                                        acknowledger: (any PageAcknowledging)?) {
        twilioRoute(router, "/api/twilio/sms", callbacks: callbacks, acknowledger: acknowledger) { _, context, fields, settings, acknowledger in
            let code = PhoneAcknowledgement.code(inReply: fields["Body"] ?? "")
            let from = fields["From"] ?? ""
            var outcome: AcknowledgeOutcome?
            if let code {
                if settings.recipients.contains(from) {
                    outcome = await acknowledger.acknowledge(code: code, by: from)
                    context.logger.info("acknowledge by SMS", metadata: ["outage.id": "\(code)", "by": "\(from)",
                                                                        "outcome": "\(outcomeName(outcome))"])
                } else {
                    context.logger.warning("acknowledge by SMS from a number Tugboat does not page: refused",
                                           metadata: ["outage.id": "\(code)", "from": "\(from)"])
                }
            }
            return twiml(PhoneAcknowledgement.smsAnswer(code: code, outcome: outcome))
        }
        twilioRoute(router, "/api/twilio/voice", callbacks: callbacks, acknowledger: acknowledger) { request, context, fields, _, acknowledger in
            let code = request.uri.queryParameters.get("code").flatMap { Int64($0) }
            guard let code, fields["Digits"] == "1" else { return twiml(PhoneAcknowledgement.voiceAnswer(code: code, outcome: nil)) }
            let person = PhoneAcknowledgement.person(inVoiceCallback: fields)
            let outcome = await acknowledger.acknowledge(code: code, by: person)
            context.logger.info("acknowledge by call", metadata: ["outage.id": "\(code)", "by": "\(person)",
                                                                  "outcome": "\(outcomeName(outcome))"])
            return twiml(PhoneAcknowledgement.voiceAnswer(code: code, outcome: outcome))
        }
    }

    /// `POST path` for Twilio: `answer` gets the request's form fields (with the settings read for
    /// it) only once its signature checks out and acknowledging from the phone is on.
    private static func twilioRoute(
        _ router: Router<BasicRequestContext>, _ path: RouterPath, callbacks: TwilioCallbacks, acknowledger: (any PageAcknowledging)?,
        answer: @escaping @Sendable (Request, BasicRequestContext, [String: String], TwilioCallbackSettings, any PageAcknowledging) async -> Response
    ) {
        router.post(path) { request, context -> Response in
            let settings = callbacks.current
            switch await verifiedTwilioFields(request, logger: context.logger, settings: settings) {
            case .refused(let response): return response
            case .verified(let fields):
                guard let acknowledger else { return jsonError(.notImplemented, "acknowledging from the phone is off") }
                return await answer(request, context, fields, settings, acknowledger)
            }
        }
    }

    enum TwilioCallbackCheck {
        case verified([String: String])
        case refused(Response)
    }

    /// The request's form fields if Twilio signed it; otherwise the response refusing it.
    static func verifiedTwilioFields(_ request: Request, logger: Logger, settings: TwilioCallbackSettings) async -> TwilioCallbackCheck {
        let path = request.uri.path
        func refuse(_ status: HTTPResponse.Status, _ reason: String) -> TwilioCallbackCheck {
            logger.warning("Twilio callback refused", metadata: ["http.path": "\(path)", "reason": "\(reason)"])
            return .refused(jsonError(status, status == .forbidden ? "forbidden" : reason))
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: twilioBodyLimit)
        } catch is NIOTooManyBytesError {
            return refuse(.contentTooLarge, "body over \(twilioBodyLimit) bytes")
        } catch {
            return refuse(.badRequest, "the body could not be read")
        }
        guard let publicURL = settings.publicURL, !publicURL.isEmpty else { return refuse(.forbidden, "alerts.public-url is not set") }
        let signatureName = TwilioSignature.header.lowercased()
        guard let signature = request.headers.first(where: { $0.name.canonicalName == signatureName })?.value, !signature.isEmpty else {
            return refuse(.forbidden, "no X-Twilio-Signature")
        }
        let parameters = FormFields.parse(String(buffer: body))
        let fields = Dictionary(parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let accounts = settings.accounts.filter { $0.accountSID == fields["AccountSid"] }
        guard !accounts.isEmpty else { return refuse(.forbidden, "AccountSid is not a configured Twilio account") }
        // The URL exactly as Twilio requested it: the public base, then the raw path and query.
        let url = (publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL) + (request.head.path ?? request.uri.string)
        let signed = accounts.contains {
            TwilioSignature.isValid(signature, url: url, parameters: parameters, authToken: $0.authToken.value)
        }
        guard signed else { return refuse(.forbidden, "the signature does not match (check alerts.public-url)") }
        return .verified(fields)
    }

    private static func twiml(_ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/xml; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func outcomeName(_ outcome: AcknowledgeOutcome?) -> String {
        switch outcome {
        case .acknowledged?: "acknowledged"
        case .alreadyAcknowledged?: "already-acknowledged"
        case .resolved?: "resolved"
        case .unknown?: "unknown"
        case nil: "refused"
        }
    }
}
