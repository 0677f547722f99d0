import Foundation
import Testing
import TugboatCore
@testable import TugboatCapture

/// Issue 15: profilers run as root, and their files lived in the shared, predictable
/// /tmp/tugboat-capture, opened with O_TRUNC through any symlink found there. Now they live in a
/// 0700 directory of Tugboat's own and are created 0600, never through a symlink.
@Suite(.serialized)
struct CaptureFilesTests {
    static func mode(_ path: String) -> (mode: mode_t, owner: uid_t, isLink: Bool)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (info.st_mode & 0o7777, info.st_uid, (info.st_mode & S_IFMT) == S_IFLNK)
    }

    @Test func anOutputPathThatIsASymlinkIsNotFollowed() async throws {
        let temp = try TempDirectory()
        defer { temp.remove() }
        let victim = "\(temp.path)/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let link = "\(temp.path)/record.log"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)

        let child = try ChildProcess(["/bin/echo", "pwned"], stdout: link)
        #expect(await child.waitForExit(timeout: .seconds(10)))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        let written = Self.mode(link)
        #expect(written?.isLink == false)
        #expect(written?.mode == 0o600)
        #expect(try String(contentsOfFile: link, encoding: .utf8) == "pwned\n")
    }

    @Test func byDefaultCapturesGoToAPrivateDirectory() async throws {
        let supervisor = CaptureSupervisor(settings: CaptureSettings(source: .perf, toolPaths: ["perf": "/bin/true"]), logger: testLogger)
        let address = HostPort(host: "127.0.0.1", port: 9)
        #expect(await supervisor.attach(address: address, pid: getpid()) == nil)
        let directories = await supervisor.captureDirectories
        #expect(directories.count == 1)
        for directory in directories {
            let root = (directory as NSString).deletingLastPathComponent
            #expect(root != "/tmp/tugboat-capture")
            for path in [root, directory] {
                let info = Self.mode(path)
                #expect(info?.mode == 0o700, "\(path)")
                #expect(info?.owner == geteuid())
                #expect(info?.isLink == false)
            }
        }
        await supervisor.shutdown()
        for directory in directories {
            #expect(!FileManager.default.fileExists(atPath: (directory as NSString).deletingLastPathComponent))
        }
    }

    @Test func aConfiguredDirectoryIsMadePrivateAndASymlinkedOneIsRefused() async throws {
        let temp = try TempDirectory()
        defer { temp.remove() }
        let open = "\(temp.path)/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        chmod(open, 0o777)
        let supervisor = CaptureSupervisor(settings: CaptureSettings(source: .perf, directory: open, toolPaths: ["perf": "/bin/true"]),
                                           logger: testLogger)
        #expect(await supervisor.attach(address: HostPort(host: "127.0.0.1", port: 9), pid: getpid()) == nil)
        #expect(Self.mode(open)?.mode == 0o700)
        await supervisor.shutdown()

        let elsewhere = "\(temp.path)/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        let link = "\(temp.path)/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: elsewhere)
        let refusing = CaptureSupervisor(settings: CaptureSettings(source: .perf, directory: link, toolPaths: ["perf": "/bin/true"]),
                                         logger: testLogger)
        let problem = await refusing.attach(address: HostPort(host: "127.0.0.1", port: 9), pid: getpid())
        #expect(problem?.contains("symbolic link") == true, "\(problem ?? "attached")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    }
}
