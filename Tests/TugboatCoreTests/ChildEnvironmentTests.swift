import Foundation
import TestSupport
import Testing
import Yams
@testable import TugboatCore

/// What every child gets from Tugboat (issue 15), and the `env:` keys that add to it.
@Suite("Child environment and descriptors", .serialized)
struct ChildEnvironmentTests {
    @Test("only the allow-list is passed on; the config's env is added on top")
    func allowList() {
        let parent = ["PATH": "/usr/bin", "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC", "TMPDIR": "/var/tmp",
                      "TUGBOAT_ADMIN_TOKEN": "secret", "TWILIO_AUTH_TOKEN": "secret", "AWS_SECRET_ACCESS_KEY": "secret", "USER": "root"]
        let child = ChildEnvironment.make(parent: parent, adding: ["APP_MODE": "prod", "PATH": "/opt/app/bin"])
        #expect(child == ["PATH": "/opt/app/bin", "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC", "TMPDIR": "/var/tmp",
                          "APP_MODE": "prod"])
    }

    @Test("a child started through the /proc/self/fd fallback holds no descriptor beyond 0-2 either")
    func fallbackWithoutCloseRange() async throws {
        let ours = ChildInspection.openInheritableSockets()
        defer { ChildInspection.closeAll(ours) }
        ProcessSpawner.skipCloseRange(true)
        defer { ProcessSpawner.skipCloseRange(false) }
        let pid = try ProcessSpawner.spawn(["/bin/sleep", "30"], diesWithTugboat: true)
        defer {
            kill(pid, SIGKILL)
            _ = ChildExit.reap(pid)
        }
        try await waitUntil("the child to exec sleep") { ChildInspection.program(pid: pid) == "/bin/sleep" }
        let descriptors = await ChildInspection.settledDescriptors(pid: pid)
        #expect(descriptors.keys.allSatisfy { $0 <= 2 }, "descriptors beyond 0-2: \(descriptors)")
        #expect(ChildInspection.sockets(descriptors.values).isDisjoint(with: ChildInspection.ownSockets))
    }
}
