// tugboat-contract: a local stand-in for the Twilio REST API (and a webhook sink), for tests and
// benchmarks. It checks the documented wire format — HTTP Basic auth with the account SID and auth
// token, the `/2010-04-01/Accounts/{AccountSid}/Calls.json` and `Messages.json` paths, the form
// fields `To`, `From`, `Twiml`/`Body` and their limits — and can fail on demand (500, 429, a
// timeout, or a permanent 400 such as error 21211). It is not part of the product.
//
//   tugboat-contract --port 0 --account-sid AC… --auth-token TOKEN
//
// Control API (JSON):
//   GET  /_contract/requests           everything accepted or refused so far, in order
//   POST /_contract/fail               {"mode":"500|429|timeout|400|401","count":N}: the next N API calls fail;
//                                      with "path":"/hook" (or "/slack") only that sink fails (500|429|503|timeout);
//                                      with "retry-after":"S" a 429 or 503 carries `Retry-After: S`
//   POST /_contract/health/{up|down}   what GET /_contract/health answers (200 or 503); hits are counted
//   GET  /_contract/health/hits        how many times /_contract/health was called
//   POST /_contract/reply              {"url","from","to","body","signature":"valid|wrong|missing"}: Twilio posts
//                                      an incoming SMS to url, signed; answers {"status","body"} (TwilioCallbacks.swift)
//   POST /_contract/press              {"url","digits","from","to","signature"}: the call's <Gather> result, likewise
// PagerDuty and Opsgenie (ProviderContracts.swift; --pagerduty-key, default contract-pd-key, and
// --opsgenie-key, default contract-og-key): POST /v2/enqueue, POST /v2/alerts and
// /v2/alerts/{alias}/acknowledge|close?identifierType=alias; /_contract/fail applies to them too
// (and takes mode 422 for Opsgenie).
// Sinks: POST /hook and /slack record their JSON bodies.
import ContractSupport
import Foundation

var port = 0
var accountSID = "AC00000000000000000000000000000000"
var authToken = "contract-token"
var pagerDutyKey = "contract-pd-key"
var opsgenieKey = "contract-og-key"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "0") ?? 0
    case "--account-sid": accountSID = arguments.next() ?? accountSID
    case "--auth-token": authToken = arguments.next() ?? authToken
    case "--pagerduty-key": pagerDutyKey = arguments.next() ?? pagerDutyKey
    case "--opsgenie-key": opsgenieKey = arguments.next() ?? opsgenieKey
    default:
        FileHandle.standardError.write("unknown argument \(argument)\n".data(using: .utf8)!)
        exit(2)
    }
}

let state = ContractState(accountSID: accountSID, authToken: authToken, pagerDutyKey: pagerDutyKey, opsgenieKey: opsgenieKey)
try ContractListener.serve(name: "contract server", port: port) { ContractHandler(state: state) }
