import NIOPosix
import Synchronization
import Testing
@testable import TugboatProxy

/// The redirect listener's challenge answers with several nodes: a token this node does not hold
/// is looked up in the shared state, but only a plausible one, so a stranger's guesses on port 80
/// never become Redis reads.
@Suite("ACME challenges: shared answers")
struct ACMEChallengesTests {
    @Test("a held token is answered here; another plausible one is looked up elsewhere; junk and non-challenge paths never are")
    func lookups() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let challenges = ACMEChallenges()
        challenges.set(token: "held", keyAuthorization: "held.thumb")
        #expect(challenges.answer(target: "/.well-known/acme-challenge/held") == "held.thumb")
        #expect(challenges.answer(target: "/.well-known/acme-challenge/other") == "")
        // Nothing shared (one node): no lookup at all.
        #expect(challenges.answerElsewhere(target: "/.well-known/acme-challenge/other", on: loop) == nil)

        let asked = Mutex<[String]>([])
        challenges.lookUpElsewhere { token in
            asked.withLock { $0.append(token) }
            return token == "Abc-_09" ? "Abc-_09.thumb" : nil
        }
        let found = try #require(challenges.answerElsewhere(target: "/.well-known/acme-challenge/Abc-_09", on: loop))
        #expect(try await found.get() == "Abc-_09.thumb")
        let missing = try #require(challenges.answerElsewhere(target: "/.well-known/acme-challenge/unknown", on: loop))
        #expect(try await missing.get() == nil)
        for junk in ["/.well-known/acme-challenge/", "/.well-known/acme-challenge/../etc", "/.well-known/acme-challenge/a%20b",
                     "/.well-known/acme-challenge/" + String(repeating: "a", count: 257), "/index.html"] {
            #expect(challenges.answerElsewhere(target: junk, on: loop) == nil, "\(junk.prefix(60))")
        }
        #expect(asked.withLock { $0 } == ["Abc-_09", "unknown"])
    }
}
