import Foundation

/// The store's files are Tugboat's alone: the database and its `-wal`/`-shm` 0600, a directory
/// Tugboat creates 0700. Explicit modes, not the umask, so a permissive umask cannot open them up.
enum StoreFiles {
    /// Creates the directory (0700) and an empty database file (0600) when they do not exist.
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if descriptor >= 0 {
            fchmod(descriptor, 0o600)  // whatever the umask
            close(descriptor)
        } else if errno != EEXIST {
            throw StoreFileError(path: path, errno: errno)
        }
    }

    /// Makes the database and its WAL files 0600 (they may predate this rule, or SQLite may have
    /// just created the WAL files under a permissive umask).
    static func restrict(_ path: String) {
        for file in [path, path + "-wal", path + "-shm", path + "-journal"] {
            chmod(file, 0o600)
        }
    }
}

/// The database file could not be created.
package struct StoreFileError: Error, CustomStringConvertible {
    package let path: String
    package let errno: Int32
    package var description: String { "cannot create the database \(path): \(String(cString: strerror(errno)))" }
}
