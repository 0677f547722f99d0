import Foundation
import Logging
import Testing
import TugboatCore
import TugboatStore

@testable import TugboatAlerts

/// One book shared by several managers, as Redis is by several nodes; it can be made unreachable,
/// and a read can be held half-way.
actor SharedTestBook: SilenceBook {
    struct Unreachable: Error {}

    private var records: [SilenceRecord] = []
    private var nextID: Int64 = 1
    var reachable = true
    var holdReads = false
    private var held: [CheckedContinuation<Void, Never>] = []

    func create(_ silence: SilenceRecord) throws -> SilenceRecord {
        guard reachable else { throw Unreachable() }
        var silence = silence
        silence.id = nextID
        nextID += 1
        records.append(silence)
        return silence
    }

    func expire(id: Int64, at date: Date) throws -> Bool {
        guard reachable else { throw Unreachable() }
        guard let index = records.firstIndex(where: { $0.id == id }), records[index].endsAt > date else { return false }
        records[index].endsAt = date
        return true
    }

    func list(endedAfter cutoff: Date) async throws -> [SilenceRecord] {
        guard reachable else { throw Unreachable() }
        let snapshot = records.filter { $0.endsAt > cutoff }
        if holdReads { await withCheckedContinuation { held.append($0) } }
        return snapshot
    }

    func set(reachable: Bool) { self.reachable = reachable }
    func set(holdReads: Bool) { self.holdReads = holdReads }
    var readsHeld: Int { held.count }
    func releaseReads() {
        for continuation in held { continuation.resume() }
        held = []
    }
}

@Suite("Alert manager: silences shared by several nodes")
struct SharedSilenceBookTests {
    let address = HostPort(host: "127.0.0.1", port: 9001)

    func manager(_ store: Store, book: SharedTestBook) -> AlertManager {
        let dispatcher = OutboxDispatcher(store: store, senders: [:], logger: Logger(label: "t"))
        return AlertManager(config: .backendDownToLog, store: store, signals: SignalBus(), dispatcher: dispatcher, logger: Logger(label: "t"), silenceBook: book)
    }

    func goDown(_ alerts: AlertManager) async {
        await alerts.handle(.backendAdded(address))
        await alerts.handle(.backendStateChanged(address: address, from: .starting, to: .unhealthy, reason: "refused"))
        await alerts.tick()
    }

    @Test("a silence made through one node holds another node's page once it re-reads the book; expired there, it pages")
    func sharedAcrossManagers() async throws {
        let book = SharedTestBook()
        let (storeA, storeB) = (try Store(path: ":memory:"), try Store(path: ":memory:"))
        let (a, b) = (manager(storeA, book: book), manager(storeB, book: book))
        let silence = try await a.createSilence(matchers: ["rule": "backend-down"], starts: nil, ends: Date().addingTimeInterval(60),
                                                comment: "deploy", createdBy: "ops")
        #expect(try await storeA.silences().isEmpty, "the shared book, not the node's store")
        await b.reloadSilences()
        await goDown(b)
        #expect(try await storeB.notifications().map(\.status) == [.silenced])

        #expect(try await a.expireSilence(id: try #require(silence.id)))
        #expect(try await a.expireSilence(id: try #require(silence.id)) == false)
        #expect((try await b.silences().first?.endsAt ?? .distantFuture) <= Date())
        await b.reloadSilences()
        let pages = try await storeB.notifications()
        #expect(pages.map(\.status) == [.pending, .silenced], "newest first: \(pages)")
    }

    @Test("while the book cannot be read the last silences read stay in force")
    func unreachableBookKeepsTheLastList() async throws {
        let book = SharedTestBook()
        let store = try Store(path: ":memory:")
        let alerts = manager(store, book: book)
        _ = try await manager(try Store(path: ":memory:"), book: book)
            .createSilence(matchers: [:], starts: nil, ends: Date().addingTimeInterval(60), comment: "move", createdBy: "ops")
        await alerts.reloadSilences()
        await book.set(reachable: false)
        for _ in 0..<5 { await alerts.reloadSilences() }
        await goDown(alerts)
        #expect(try await store.notifications().map(\.status) == [.silenced])
        await #expect(throws: SharedTestBook.Unreachable.self) {
            try await alerts.createSilence(matchers: [:], starts: nil, ends: Date().addingTimeInterval(60), comment: "c", createdBy: "t")
        }
        // Validation comes first: a bad silence is refused without asking the book.
        await #expect(throws: AlertManager.SilenceError.invalid("'ends' is in the past")) {
            try await alerts.createSilence(matchers: [:], starts: Date().addingTimeInterval(-60), ends: Date().addingTimeInterval(-1),
                                          comment: "c", createdBy: "t")
        }
    }

    @Test("a read begun before a silence was created here does not drop it")
    func staleReadIsDiscarded() async throws {
        let book = SharedTestBook()
        let store = try Store(path: ":memory:")
        let alerts = manager(store, book: book)
        await book.set(holdReads: true)
        let read = Task { await alerts.reloadSilences() }
        let clock = ContinuousClock(), deadline = clock.now + .seconds(5)
        while await book.readsHeld == 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await book.readsHeld == 1)
        await book.set(holdReads: false)
        _ = try await alerts.createSilence(matchers: [:], starts: nil, ends: Date().addingTimeInterval(60), comment: "c", createdBy: "t")
        await book.releaseReads()  // returns the list from before the silence
        await read.value
        await goDown(alerts)
        #expect(try await store.notifications().map(\.status) == [.silenced])
    }

    @Test("one warning per outage of the book, after a few failed reads, and one note when it is back")
    func warnsOncePerOutage() {
        var sync = SilenceSync()
        let once = [sync.failed(), sync.succeeded()]
        #expect(once == [false, false], "one failed read (a connection still being made) is no outage")
        let outage = (0..<6).map { _ in sync.failed() }
        #expect(outage == [false, false, true, false, false, false])
        let back = [sync.succeeded(), sync.succeeded()]
        #expect(back == [true, false])
        let before = sync.generation
        sync.changed()
        #expect(sync.generation == before + 1)
    }
}
