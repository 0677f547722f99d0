#if canImport(CZlib)
import CZlib
#endif

/// More bytes came out of a gzip stream than the caller allows (a decompression bomb: 400 KB can
/// hold 400 MiB of zeros). Decompression stops as soon as the limit is passed.
public struct DecompressionLimitExceeded: Error, Sendable, Equatable, CustomStringConvertible {
    /// The most bytes allowed out.
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    public var description: String { "the gzip data expands to more than \(ByteCount.text(limit)) decompressed" }
}

/// A byte count as people write it: "64 MiB", "512 KiB", "100 bytes".
public enum ByteCount {
    public static func text(_ count: Int) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where count >= 1 << shift && count % (1 << shift) == 0 {
            return "\(count >> shift) \(unit)"
        }
        return "\(count) bytes"
    }
}

/// gzip decompression through the system zlib.
enum Gzip {
    /// Whether this build links zlib (the CZlib module).
    static var isAvailable: Bool {
        #if canImport(CZlib)
        return true
        #else
        return false
        #endif
    }

    /// Inflates gzip data (several members are concatenated, as gzip does); throws
    /// ``DecompressionLimitExceeded`` as soon as more than `limit` bytes come out.
    static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        #if canImport(CZlib)
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw PprofError("cannot start zlib")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = input
        let total = input.count
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(total)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                guard produced <= limit - output.count else { throw DecompressionLimitExceeded(limit: limit) }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END && stream.avail_in > 0 {
                    status = inflateReset(&stream)
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw PprofError("corrupt gzip data (zlib status \(status))")
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 { throw PprofError("truncated gzip data") }
            } while status != Z_STREAM_END || stream.avail_in > 0
        }
        return output
        #else
        throw PprofError("this build has no zlib: gunzip the profile first (gunzip -c profile.pb.gz > profile.pb)")
        #endif
    }
}
