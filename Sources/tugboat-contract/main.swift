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
//   POST /_contract/fail               {"mode":"500|429|timeout|400|401","count":N}: the next N API calls fail
//   POST /_contract/health/{up|down}   what GET /_contract/health answers (200 or 503); hits are counted
//   GET  /_contract/health/hits        how many times /_contract/health was called
// Sinks: POST /hook and /slack record their JSON bodies.
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

var port = 0
var accountSID = "AC00000000000000000000000000000000"
var authToken = "contract-token"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "0") ?? 0
    case "--account-sid": accountSID = arguments.next() ?? accountSID
    case "--auth-token": authToken = arguments.next() ?? authToken
    default:
        FileHandle.standardError.write("unknown argument \(argument)\n".data(using: .utf8)!)
        exit(2)
    }
}

let state = ContractState(accountSID: accountSID, authToken: authToken)
let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(ContractHandler(state: state))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
print("contract server listening on 127.0.0.1:\(channel.localAddress!.port!)")
fflush(nil)
try channel.closeFuture.wait()
