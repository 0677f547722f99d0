import Foundation
import Synchronization
import Testing

/// Bodies are streamed with backpressure: a 1 GiB upload and a 1 GiB download pass through
/// while the proxy's resident memory grows by less than 64 MiB.
@Suite("Streaming end to end", .serialized)
struct StreamingTests {
    static let size = 1 << 30
    static let memoryBudgetKiB = 64 * 1024

    /// Samples the process's resident memory until stopped; returns the peak.
    final class PeakMemory: @unchecked Sendable {
        private let peak = Atomic<Int>(0)
        private let running = Atomic<Bool>(true)
        private let done = DispatchSemaphore(value: 0)

        private let child: ChildProcess

        init(_ child: ChildProcess) {
            self.child = child
            sample()
            DispatchQueue.global().async { [self] in
                while running.load(ordering: .relaxed) {
                    sample()
                    usleep(10_000)
                }
                done.signal()
            }
        }

        private func sample() {
            let rss = child.residentKiB
            if rss > peak.load(ordering: .relaxed) { peak.store(rss, ordering: .relaxed) }
        }

        func stop() -> Int {
            running.store(false, ordering: .relaxed)
            done.wait()
            sample()
            return peak.load(ordering: .relaxed)
        }
    }

    /// Runs `transfer` on a keep-alive connection through a fresh proxy; returns the growth of the
    /// proxy's resident memory (peak during the transfer minus before it), in KiB.
    func memoryGrowth(_ what: String, _ transfer: (TestHTTPClient) throws -> Void) throws -> Int {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address])
        try tugboat.waitHealthy([a.address])
        let client = try TestHTTPClient(port: tugboat.port, timeout: 120)
        #expect(try client.request("GET", "/").status == 200)
        let baseline = tugboat.child.residentKiB
        let sampler = PeakMemory(tugboat.child)
        try transfer(client)
        let peak = sampler.stop()
        print("\(what): proxy resident memory \(baseline) KiB before, peak \(peak) KiB")
        #expect(peak > 0)
        return peak - baseline
    }

    @Test("1 GiB download streams through with bounded memory")
    func download() throws {
        let growth = try memoryGrowth("1 GiB download") { client in
            try client.send("GET /download?bytes=\(Self.size) HTTP/1.1\r\nHost: x\r\n\r\n")
            let (response, length) = try client.readResponse(discardBody: true)
            #expect(response.status == 200)
            #expect(length == Self.size)
        }
        #expect(growth < Self.memoryBudgetKiB, "resident memory grew by \(growth) KiB")
    }

    @Test("1 GiB upload streams through with bounded memory")
    func upload() throws {
        let growth = try memoryGrowth("1 GiB upload") { client in
            try client.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(Self.size)\r\n\r\n")
            let chunk = [UInt8](repeating: UInt8(ascii: "u"), count: 256 * 1024)
            for _ in 0..<(Self.size / chunk.count) { try client.send(chunk) }
            let (response, _) = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText.contains("\"bytes\":\(Self.size)"))
        }
        #expect(growth < Self.memoryBudgetKiB, "resident memory grew by \(growth) KiB")
    }
}
