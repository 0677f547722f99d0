import Foundation
import TugboatCore

/// A finished file in an instance's directory and the time it was finished (its mtime).
struct FinishedFile: Sendable, Equatable {
    var path: String
    var name: String
    var finished: Date
}

enum RollingFiles {
    /// Files in `directory` whose names start with `prefix`, oldest first.
    static func list(_ directory: String, prefix: String) -> [FinishedFile] {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { return [] }
        var files: [FinishedFile] = []
        for name in names where name.hasPrefix(prefix) {
            let path = "\(directory)/\(name)"
            guard let attributes = try? manager.attributesOfItem(atPath: path),
                  let date = attributes[.modificationDate] as? Date else { continue }
            files.append(FinishedFile(path: path, name: name, finished: date))
        }
        return files.sorted { ($0.finished, $0.name) < ($1.finished, $1.name) }
    }

    /// The files that end after `end - window` (and so cover the window in whole files),
    /// each with the time it starts: the end of the file before, or one slice before its own end.
    static func covering(_ files: [FinishedFile], end: Date, window: Duration, slice: Duration) -> [(file: FinishedFile, start: Date)] {
        let from = end.addingTimeInterval(-window.seconds)
        var result: [(file: FinishedFile, start: Date)] = []
        for (index, file) in files.enumerated() where file.finished > from {
            let start = index > 0 ? files[index - 1].finished : file.finished.addingTimeInterval(-slice.seconds)
            result.append((file, start))
        }
        return result
    }
}
