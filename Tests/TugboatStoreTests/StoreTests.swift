import Foundation
import GRDB
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
    func walAndSynchronous() throws {
        let store = try Store(path: temporaryPath().path)
        let (journal, synchronous) = try store.database.read { db in
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
        DispatchQueue.global().async {
            _ = try? store.incidents()
            read.signal()
        }
        let answered = read.wait(timeout: .now() + 3) == .success
        release.signal()
        done.wait()
        if !answered { _ = read.wait(timeout: .now() + 10) }
        #expect(answered, "the read waited for the write to finish")
    }

    @Test("the database, its -wal and -shm are 0600 in a directory Tugboat creates 0700, whatever the umask")
    func privateFiles() throws {
        let (directory, path) = temporaryPath()
        let old = umask(0o022)
        defer { umask(old) }
        let store = try Store(path: path)
        try store.savePending(.init(rule: "r", target: "t", since: Date(), detail: "d"))  // a write: the WAL exists
        #expect(try mode(directory) == 0o700)
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file) missing")
            let actual = try mode(file)
            #expect(actual == 0o600, "\(file) is \(String(actual, radix: 8))")
        }
    }

    @Test("an existing database left 0644 by an older version is made 0600")
    func tightensExisting() throws {
        let (directory, path) = temporaryPath()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try Store(path: path)
        chmod(path, 0o644)
        _ = try Store(path: path)
        #expect(try mode(path) == 0o600)
    }

    @Test("pruning deletes what ended before the cutoff and keeps what is open, recent or still to be sent")
    func prune() throws {
        let store = try Store(path: temporaryPath().path)
        let old = Date().addingTimeInterval(-100 * 86_400), recent = Date().addingTimeInterval(-3600)
        func incident(_ resolvedAt: Date?, pending: Bool = false) throws -> Int64 {
            var record = IncidentRecord(rule: "r", target: "t", state: resolvedAt == nil ? .firing : .resolved, summary: "s", startedAt: old)
            record.resolvedAt = resolvedAt
            var page = NotificationRecord(incident: 0, channel: "log", recipient: nil, kind: .trigger, text: "x", at: old)
            page.status = pending ? .pending : .sent
            return try store.save(record, notifications: [page]).id!
        }
        let gone = try incident(old), kept = try incident(recent), open = try incident(nil), unsent = try incident(old, pending: true)
        try store.recordScalingEvent(.init(at: old, from: 1, to: 2, state: .up, reason: "old", failed: false))
        try store.recordScalingEvent(.init(at: recent, from: 2, to: 3, state: .up, reason: "new", failed: false))
        let pruned = try store.prune(before: Date().addingTimeInterval(-90 * 86_400))
        #expect(pruned.incidents == 1 && pruned.notifications == 1 && pruned.scalingEvents == 1)
        let ids = Set(try store.incidents().compactMap(\.id))
        #expect(!ids.contains(gone))
        #expect(ids.isSuperset(of: [kept, open, unsent]))
        #expect(try store.notifications(incident: unsent).count == 1)
        #expect(try store.scalingEvents().map(\.reason) == ["new"])
    }

    @Test("pending windows are saved, read back after reopening, and cleared")
    func pendingRoundTrip() throws {
        let path = temporaryPath().path
        let since = Date(timeIntervalSince1970: 1_800_000_000)
        try Store(path: path).savePending(.init(rule: "front-down", target: "front", since: since, detail: "refused"))
        let reopened = try Store(path: path)
        #expect(try reopened.pendingConditions() == [.init(rule: "front-down", target: "front", since: since, detail: "refused")])
        try reopened.clearPending(rule: "front-down", target: "front")
        #expect(try reopened.pendingConditions().isEmpty)
    }
}
