import Foundation
import GRDB
import Synchronization
@testable import TugboatStore

/// How many more writes the store refuses.
final class RefusedWrites: Sendable {
    private let left: Mutex<Int>
    init(_ count: Int) { left = Mutex(count) }
    var remaining: Int { left.withLock { $0 } }
    func set(_ count: Int) { left.withLock { $0 = count } }
    /// True while writes are refused (each call takes one).
    func take() -> Bool {
        left.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
    }
}

extension Store {
    /// Makes this real store refuse its next `count` writes to `tables` with SQLITE_FULL ("database
    /// or disk is full"), as a full disk would: temporary triggers on the writer's connection call
    /// a function that fails while writes are refused. Each refused write aborts its transaction.
    func refuseWrites(_ count: Int, tables: [String] = ["incident", "alertGroup", "notification"]) throws -> RefusedWrites {
        let refused = RefusedWrites(count)
        try database.writeWithoutTransaction { db in
            db.add(function: DatabaseFunction("tugboat_test_disk_full", argumentCount: 0, pure: false) { _ in
                if refused.take() { throw DatabaseError(resultCode: .SQLITE_FULL, message: "database or disk is full") }
                return nil
            })
            for table in tables {
                for operation in ["INSERT", "UPDATE"] {
                    try db.execute(sql: """
                        CREATE TEMP TRIGGER refuse_\(operation.lowercased())_\(table) BEFORE \(operation) ON main.\(table)
                        BEGIN SELECT tugboat_test_disk_full(); END
                        """)
                }
            }
        }
        return refused
    }
}
