import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where profilers (often run as root) write: directories of Tugboat's own, 0700, and files
/// created anew, 0600, never through a symbolic link someone planted at their path.
enum CaptureFiles {
    /// Opens `path` for writing as a new 0600 file; whatever was at the path (a symbolic link
    /// included) is unlinked, not followed. -1 with errno on failure.
    static func create(_ path: String) -> Int32 {
        unlink(path)
        return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    }

    /// Makes `path` the private root of the capture directories: created 0700 when missing; when
    /// it exists it must be a directory (not a symbolic link) owned by this user, and becomes 0700.
    static func preparePrivateDirectory(_ path: String) throws(CaptureError) {
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw .unavailable("profiling: cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ELOOP || errno == ENOTDIR ? "it is a symbolic link or not a directory" : String(cString: strerror(errno))
            throw .unavailable("profiling: will not write captures in \(path): \(reason)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_uid == geteuid() else {
            throw .unavailable("profiling: will not write captures in \(path): it belongs to another user")
        }
        guard fchmod(fd, 0o700) == 0 else {
            throw .unavailable("profiling: cannot make \(path) private: \(String(cString: strerror(errno)))")
        }
    }

    /// A new private directory under `$TMPDIR` (or /tmp) with an unpredictable name (mkdtemp: 0700).
    static func makeTemporaryDirectory() throws(CaptureError) -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/tugboat-capture-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw .unavailable("profiling: cannot create a directory in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// A new 0700 subdirectory `name` of `root` (which must not exist yet).
    static func makeSubdirectory(_ name: String, in root: String) throws(CaptureError) -> String {
        let path = "\(root)/\(name)"
        guard mkdir(path, 0o700) == 0 else {
            throw .unavailable("profiling: cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }
}
