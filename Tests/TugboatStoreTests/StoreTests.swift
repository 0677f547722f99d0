import Foundation
import GRDB
import Synchronization
import Testing
@testable import TugboatStore

@Suite("Store: WAL, reads beside the writer, private files, retention, pending windows", .serialized)
struct StoreTests {
    func temporaryPath(_ name: String = "tugboat.db") -> (directory: String, path: String) {
        let directory = NSTemporaryDirectory() + "tugboat-store-\(UUID().uuidString)/state"
        return (directory, directory + "/" + name)
    }

    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("a file database is in WAL mode with synchronous=FULL")
    func walAndSynchronous() async throws {
        let store = try Store(path: temporaryPath().path)
        let (journal, synchronous) = try await store.database.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(journal == "wal")
        #expect(synchronous == 2)  // FULL
    }

    @Test("a read is answered while a write transaction is open (reads are off the writer's queue)")
    func readsBesideWriter() throws {
        let store = try Store(path: temporaryPath().path)
        let writing = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? store.database.write { _ in
                writing.signal()
                release.wait()
            }
            done.signal()
        }
        writing.wait()
        let read = DispatchSemaphore(value: 0)
        Task {
            _ = try? await store.incidents()
            read.signal()
        }
        let answered = read.wait(timeout: .now() + 3) == .success
        release.signal()
        done.wait()
        if !answered { _ = read.wait(timeout: .now() + 10) }
        #expect(answered, "the read waited for the write to finish")
    }

    @Test("the database, its -wal and -shm are 0600 in a directory Tugboat creates 0700, whatever the umask")
    func privateFiles() async throws {
        let (directory, path) = temporaryPath()
        let old = umask(0o022)
        defer { umask(old) }
        let store = try Store(path: path)
        try await store.savePending(.init(rule: "r", target: "t", since: Date(), detail: "d"))  // a write: the WAL exists
        #expect(try mode(directory) == 0o700)
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file) missing")
            let actual = try mode(file)
            #expect(actual == 0o600, "\(file) is \(String(actual, radix: 8))")
        }
    }

    @Test("an existing database left 0644 by an older version is made 0600")
    func tightensExisting() async throws {
        let (directory, path) = temporaryPath()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try Store(path: path)
        chmod(path, 0o644)
        _ = try Store(path: path)
        #expect(try mode(path) == 0o600)
    }

    @Test("pruning deletes what ended before the cutoff and keeps what is open, recent or still to be sent")
    func prune() async throws {
        let store = try Store(path: temporaryPath().path)
        let old = Date().addingTimeInterval(-100 * 86_400), recent = Date().addingTimeInterval(-3600)
        func incident(_ resolvedAt: Date?, pending: Bool = false) async throws -> Int64 {
            var record = IncidentRecord(rule: "r", target: "t", state: resolvedAt == nil ? .firing : .resolved, summary: "s", startedAt: old)
            record.resolvedAt = resolvedAt
            var page = NotificationRecord(incident: 0, channel: "log", recipient: nil, kind: .trigger, text: "x", at: old)
            page.status = pending ? .pending : .sent
            return try await store.save(record, notifications: [page]).id!
        }
        let gone = try await incident(old), kept = try await incident(recent), open = try await incident(nil)
        let unsent = try await incident(old, pending: true)
        try await store.recordScalingEvent(.init(at: old, from: 1, to: 2, state: .up, reason: "old", failed: false))
        try await store.recordScalingEvent(.init(at: recent, from: 2, to: 3, state: .up, reason: "new", failed: false))
        let pruned = try await store.prune(before: Date().addingTimeInterval(-90 * 86_400))
        #expect(pruned.incidents == 1 && pruned.notifications == 1 && pruned.scalingEvents == 1)
        let ids = Set(try await store.incidents().compactMap(\.id))
        #expect(!ids.contains(gone))
        #expect(ids.isSuperset(of: [kept, open, unsent]))
        #expect(try await store.notifications(incident: unsent).count == 1)
        #expect(try await store.scalingEvents().map(\.reason) == ["new"])
    }

    @Test("pending windows are saved, read back after reopening, and cleared")
    func pendingRoundTrip() async throws {
        let path = temporaryPath().path
        let since = Date(timeIntervalSince1970: 1_800_000_000)
        try await Store(path: path).savePending(.init(rule: "front-down", target: "front", since: since, detail: "refused"))
        let reopened = try Store(path: path)
        #expect(try await reopened.pendingConditions() == [.init(rule: "front-down", target: "front", since: since, detail: "refused")])
        try await reopened.clearPending(rule: "front-down", target: "front")
        #expect(try await reopened.pendingConditions().isEmpty)
    }
}

/// Stands in for the alert manager: an actor on the store thread that writes with blocking calls.
private actor BlockingWriter {
    nonisolated var unownedExecutor: UnownedSerialExecutor { StoreThread.shared.asUnownedSerialExecutor() }

    func write(_ store: Store, _ n: Int) throws -> Bool {
        try store.blocking.savePending(.init(rule: "r\(n)", target: "t", since: Date(), detail: "d"))
        return StoreThread.shared.isCurrent
    }
}

/// A writer held open on a thread outside the pool until released (by the test, or by the
/// backstop when the test cannot run any more).
private final class HeldWriter: Sendable {
    private let release = DispatchSemaphore(value: 0)
    private let releasedFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(_ store: Store, backstop: DispatchTimeInterval) {
        let writing = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { [self] in
            try? store.database.write { _ in
                writing.signal()
                release.wait()
            }
            done.signal()
        }
        writing.wait()
        DispatchQueue.global().asyncAfter(deadline: .now() + backstop) { [self] in self.releaseOnce() }
    }

    var released: Bool { releasedFlag.load(ordering: .acquiring) }

    func releaseOnce() {
        if releasedFlag.exchange(true, ordering: .acquiringAndReleasing) == false { release.signal() }
    }
}

@Suite("Store thread: blocking store calls stay off the cooperative pool")
struct StoreThreadTests {
    @Test("actors on the store thread wait there for a held writer; the cooperative pool still answers reads meanwhile")
    func blockingWritesOffThePool() async throws {
        let store = try Store(path: NSTemporaryDirectory() + "tugboat-store-\(UUID().uuidString)/state/tugboat.db")
        let held = HeldWriter(store, backstop: .seconds(10))
        // More blocked writers than the pool has threads: on the pool they would take all of them,
        // and the read below would wait for the backstop.
        let writers = (0..<(4 * ProcessInfo.processInfo.activeProcessorCount + 4)).map { _ in BlockingWriter() }
        let tasks = writers.enumerated().map { n, writer in Task { try await writer.write(store, n) } }
        _ = try await store.pendingConditions()
        let answeredWhileHeld = !held.released
        held.releaseOnce()
        var onStoreThread: [Bool] = []
        for task in tasks { onStoreThread.append(try await task.value) }
        #expect(answeredWhileHeld, "a read on the pool waited for the blocked writers")
        #expect(onStoreThread == Array(repeating: true, count: writers.count))
        #expect(!StoreThread.shared.isCurrent)
        #expect(try await store.pendingConditions().count == writers.count)
    }
}
