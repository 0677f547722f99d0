import Foundation

/// perf names a sample's files by the paths it saw, which for a process in another mount
/// namespace (a container) are paths inside that namespace: not on the host, and gone with the
/// container once it dies, so its frames would read `[unknown]`. While the process lives, the
/// files it has mapped are copied (through `/proc/<pid>/root`) under a directory of ours, at the
/// same paths, for `perf script --symfs` to read after its death.
enum ForeignSymbols {
    /// Whether `pid` lives in another mount namespace than Tugboat.
    static func isForeign(pid: Int32) -> Bool {
        guard let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt"),
              let ours = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt") else { return false }
        return theirs != ours
    }

    /// The files `pid` has mapped (`/proc/<pid>/maps`), as paths inside its own namespace.
    static func mappedFiles(pid: Int32) -> [String] {
        guard let maps = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { return [] }
        var seen = Set<String>()
        var files: [String] = []
        for line in maps.split(separator: "\n") {
            // address perms offset dev inode pathname: the path is what follows the fifth field.
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let path = fields[5].trimmingCharacters(in: .whitespaces)
            guard path.hasPrefix("/"), !path.hasSuffix(" (deleted)"), seen.insert(path).inserted else { continue }
            files.append(path)
        }
        return files
    }

    /// Copies `pid`'s mapped files under `root` (made 0700; files 0600, never through a link
    /// found at their path), at most `limit` bytes in all. Returns the bytes copied.
    @discardableResult
    static func mirror(pid: Int32, into root: String, limit: Int = 1 << 30) -> Int {
        var copied = 0
        for path in mappedFiles(pid: pid) {
            let source = "/proc/\(pid)/root\(path)"
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: source),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let size = (attributes[.size] as? NSNumber)?.intValue, copied + size <= limit,
                  let input = FileHandle(forReadingAtPath: source) else { continue }
            defer { try? input.close() }
            let target = root + path
            let directory = (target as NSString).deletingLastPathComponent
            guard (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                             attributes: [.posixPermissions: 0o700])) != nil else { continue }
            let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { continue }
            let output = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            // In 1 MiB pieces: a program of a few hundred MiB is not held in memory at once.
            while let piece = try? input.read(upToCount: 1 << 20), !piece.isEmpty {
                guard (try? output.write(contentsOf: piece)) != nil else { break }
                copied += piece.count
            }
        }
        return copied
    }
}
