import Foundation
import Testing
@testable import TugboatScaling

/// Which known containers died while the docker events stream was down.
struct DockerReconciliationTests {
    typealias Death = DockerReconciliation.Death

    @Test func exitedDeadRemovingAndGoneContainersDiedRunningOnesDidNot() {
        let known: Set = ["run", "exit", "dead", "gone", "removing", "paused", "restarting"]
        let listed = ["run": "running", "exit": "exited", "dead": "dead", "removing": "removing",
                      "paused": "paused", "restarting": "restarting", "stranger": "exited"]
        #expect(DockerReconciliation.deaths(known: known, listed: listed) == [
            Death(id: "dead", state: "dead"), Death(id: "exit", state: "exited"),
            Death(id: "gone", state: nil), Death(id: "removing", state: "removing"),
        ])
    }

    @Test func containersItDoesNotKnowAreNotItsConcern() {
        // Listed but not known: another provider's, or launched after the known set was read.
        #expect(DockerReconciliation.deaths(known: [], listed: ["new": "exited"]).isEmpty)
        #expect(DockerReconciliation.deaths(known: ["a"], listed: ["a": "running", "b": "dead"]).isEmpty)
    }

    @Test func anEmptyListMeansEveryKnownContainerIsGone() {
        #expect(DockerReconciliation.deaths(known: ["b", "a"], listed: [:]) == [Death(id: "a", state: nil), Death(id: "b", state: nil)])
    }

    @Test func aStateDockerMayAddLaterIsNotADeath() {
        #expect(DockerReconciliation.deaths(known: ["a"], listed: ["a": "hibernating"]).isEmpty)
    }

    @Test func readsIdsAndStatesOfTheContainerList() throws {
        let body = Data("""
            [{"Id":"abc","Names":["/x"],"State":"exited","Status":"Exited (137) 2 seconds ago"},
             {"Id":"def","State":"running","Status":"Up 3 minutes"},
             {"Id":"ghi"}]
            """.utf8)
        #expect(try DockerReconciliation.listedStates(body) == ["abc": "exited", "def": "running", "ghi": "unknown"])
        #expect(try DockerReconciliation.listedStates(Data("[]".utf8)).isEmpty)
    }

    @Test func anUnreadableListIsAnErrorNotAnEmptyPool() {
        // An empty pool would declare every known container dead.
        #expect(throws: ProviderError.self) { try DockerReconciliation.listedStates(Data("{\"message\":\"oops\"}".utf8)) }
        #expect(throws: ProviderError.self) { try DockerReconciliation.listedStates(Data("[{\"State\":\"running\"}]".utf8)) }
        #expect(throws: ProviderError.self) { try DockerReconciliation.listedStates(Data("not json".utf8)) }
    }

    @Test func theExitCodeComesFromTheInspectedState() {
        #expect(DockerReconciliation.exitCode(inspected: Data(#"{"Id":"a","State":{"Status":"exited","Running":false,"ExitCode":137}}"#.utf8)) == 137)
        #expect(DockerReconciliation.exitCode(inspected: Data(#"{"State":{"ExitCode":0}}"#.utf8)) == 0)
        #expect(DockerReconciliation.exitCode(inspected: Data(#"{"message":"No such container"}"#.utf8)) == nil)
    }
}

/// An outage of the docker events stream is logged once when it begins and once when it ends.
struct StreamOutageTests {
    let start = ContinuousClock.now

    @Test func onlyTheFirstFailureBeginsAnOutageAndReconnectingEndsIt() throws {
        var outage = StreamOutage()
        let began = [outage.failed(at: start), outage.failed(at: start + .seconds(1)), outage.failed(at: start + .seconds(3))]
        #expect(began == [true, false, false])
        #expect(outage.isDown)
        let ended = outage.connected(at: start + .seconds(5))
        let back = try #require(ended)
        #expect(back.downFor == .seconds(5))
        #expect(back.failures == 3)
        #expect(!outage.isDown)

        // The next break is a new outage, counted afresh.
        let beganAgain = outage.failed(at: start + .seconds(60))
        #expect(beganAgain)
        let backAgain = outage.connected(at: start + .seconds(61))
        #expect(backAgain?.failures == 1)
    }

    @Test func connectingWithoutAnOutageReportsNothing() {
        var outage = StreamOutage()
        let first = outage.connected(at: start), second = outage.connected(at: start + .seconds(1))
        #expect(first?.failures == nil)
        #expect(second?.failures == nil)
    }
}
