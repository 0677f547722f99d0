import TugboatCore

/// A way to reach the person on call.
package enum ChannelConfig: Sendable, Equatable {
    case twilioCall(TwilioConfig)
    case twilioSMS(TwilioConfig)
    case webhook(url: String)
    case slack(url: String)
    /// Runs a program (argv) with the incident as JSON on stdin; `env` is added to the few
    /// variables every child gets (see `ChildEnvironment`).
    case command([String], env: [String: String] = [:])
    case log
    /// SMTP mail to a list of addresses.
    case email(EmailConfig)
    /// PagerDuty Events API v2.
    case pagerDuty(PagerDutyConfig)
    /// Opsgenie Alert API.
    case opsgenie(OpsgenieConfig)

    /// A voice call only ever pages; it never phones to say all is well.
    package var carriesText: Bool {
        if case .twilioCall = self { return false }
        return true
    }

    /// Incident tools that keep their own alert open: told when a person acknowledges, so the
    /// alert there stops escalating too.
    package var receivesAcknowledgements: Bool {
        switch self {
        case .pagerDuty, .opsgenie: true
        default: false
        }
    }

    package var kind: String {
        switch self {
        case .twilioCall: "twilio-call"
        case .twilioSMS: "twilio-sms"
        case .webhook: "webhook"
        case .slack: "slack"
        case .command: "command"
        case .log: "log"
        case .email: "email"
        case .pagerDuty: "pagerduty"
        case .opsgenie: "opsgenie"
        }
    }
}

/// The Twilio account and numbers of a `twilio-call` or `twilio-sms` channel.
package struct TwilioConfig: Sendable, Equatable {
    package var accountSID: String
    package var authToken: Secret
    package var from: String
    package var to: [String]
    /// Where the API lives; tests point it at a local contract server.
    package var apiBase: String = "https://api.twilio.com"
    package var statusCallback: String?

    package init(accountSID: String, authToken: Secret, from: String, to: [String]) {
        self.accountSID = accountSID
        self.authToken = authToken
        self.from = from
        self.to = to
    }
}
