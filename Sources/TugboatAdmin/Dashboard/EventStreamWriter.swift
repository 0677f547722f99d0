import Hummingbird
import NIOCore

/// Writes server-sent events with a deadline on each write: a client that stops reading is
/// dropped once the buffers between us are full and a write waits longer than `timeout`; it is
/// never buffered beyond them.
struct EventStreamWriter {
    struct SlowClient: Error {}

    var writer: any ResponseBodyWriter
    let timeout: Duration

    /// `event: <name>`, `id: <id>`, the data (one `data:` line per line of it).
    static func format(event: String, id: UInt64, data: String) -> String {
        var text = "event: \(event)\nid: \(id)\n"
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        return text + "\n"
    }

    mutating func write(_ text: String) async throws {
        nonisolated(unsafe) var writer = self.writer
        let buffer = ByteBuffer(string: text)
        let timeout = self.timeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await writer.write(buffer) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SlowClient()
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
