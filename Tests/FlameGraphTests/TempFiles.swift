import Foundation

enum FileManagerShim {
    /// Writes `contents` to a new temporary file and returns its path.
    static func temporaryFile(contents: String) -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fg-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(contents.utf8))
        return url.path
    }
}
