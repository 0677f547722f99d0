import Foundation
import Testing
@testable import FlameGraph

/// Issue 15: 400 KB of gzip expanded to 400 MiB (and 500 MB resident) before the profile was even
/// looked at. Decompression now stops at a limit (64 MiB by default).
@Suite(.serialized)
struct GzipBombTests {
    /// `count` gzip members of 1 MiB of zeros each, concatenated (gzip reads them as one stream):
    /// about 1 KB per MiB.
    static func bomb(mebibytes count: Int) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "head -c 1048576 /dev/zero | gzip -c"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let member = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(member.count > 100 && member.count < 2048)
        return Array([[UInt8]](repeating: member, count: count).joined())
    }

    /// The peak resident size (VmHWM) after `body`, less the resident size before it (the peak is
    /// reset first through /proc/self/clear_refs).
    static func peakGrowth(_ body: () throws -> Void) rethrows -> Int {
        func status(_ field: String) -> Int {
            let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = status("VmRSS")
        try body()
        return status("VmHWM") - before
    }

    @Test(.enabled(if: Gzip.isAvailable)) func aGzipBombIsRefusedQuicklyWithBoundedMemory() throws {
        let bomb = try Self.bomb(mebibytes: 400)
        #expect(bomb.count < 600_000)
        let started = ContinuousClock.now
        var refusal = ""
        let growth = Self.peakGrowth {
            do {
                _ = try PprofCollapser.collapse(.bytes(bomb))
            } catch {
                refusal = "\(error)"
            }
        }
        #expect(refusal.contains("more than 64 MiB decompressed"), "got: \(refusal)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(growth < 160 << 20, "peak grew by \(growth >> 20) MiB")
    }

    @Test(.enabled(if: Gzip.isAvailable)) func theLimitIsTheCallersAndAProfileBelowItReads() throws {
        let bomb = try Self.bomb(mebibytes: 3)
        #expect(throws: DecompressionLimitExceeded(limit: 2 << 20)) { try Gzip.decompress(bomb, limit: 2 << 20) }
        #expect(try Gzip.decompress(bomb, limit: 3 << 20).count == 3 << 20)
        let profile = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixture.path("pprof/cpu.pb.gz"))))
        #expect(throws: DecompressionLimitExceeded.self) { try PprofCollapser.collapse(.bytes(profile), maximumDecompressedSize: 100) }
        #expect(try PprofCollapser.collapse(.bytes(profile), maximumDecompressedSize: 1 << 20).total > 0)
    }
}
