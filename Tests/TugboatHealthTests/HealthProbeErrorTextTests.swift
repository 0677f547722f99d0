import NIOPosix
import Testing
import TestSupport
import TugboatCore
import TugboatHealth

@Suite("Health probe: a failed check's reason in a few words")
struct HealthProbeErrorTextTests {
    @Test("a port nobody listens on fails with 'Connection refused', not a dump of NIO's error types")
    func refused() async throws {
        let port = try freePort()
        let probe = HealthProbe(path: nil, timeout: .seconds(2), group: MultiThreadedEventLoopGroup.singleton)
        let result = await probe.check(HostPort(host: "127.0.0.1", port: port))
        #expect(result == .failed("Connection refused"))
    }
}
