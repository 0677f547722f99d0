import Foundation

/// A profiler's log (its standard error, in the instance's directory).
enum ToolLog {
    /// The last two lines of the log at `path` (without perf's "[ perf record: …" progress lines),
    /// for error messages; at most 400 characters.
    static func tail(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("[ perf record:") }
        return lines.suffix(2).joined(separator: " / ").prefix(400).description
    }
}
