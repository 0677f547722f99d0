#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a profile is read from: a file, standard input, or bytes already in memory.
///
/// Files and standard input are read in chunks, so line-oriented readers keep only the
/// current line in memory, not the whole input.
public enum ByteSource: Sendable {
    /// The process's standard input.
    case standardInput
    /// A file at this path.
    case file(String)
    /// Bytes in memory.
    case bytes([UInt8])
}

/// An error reading an input.
public struct InputError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for a person.
    public let description: String
    /// Makes an error with this message.
    public init(_ description: String) { self.description = description }
}

extension ByteSource {
    static let chunkSize = 1 << 20

    /// Calls `body` with every line, without its final `\n` (like Perl's `chomp`).
    /// A last line without a newline is passed too.
    func forEachLine(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        switch self {
        case .bytes(let bytes):
            _ = try bytes.withUnsafeBufferPointer { try Self.splitLines($0, final: true, body) }
        case .standardInput:
            try Self.readLines(fd: 0, body)
        case .file(let path):
            let fd = try Self.open(path)
            defer { close(fd) }
            if try Self.mapLines(fd: fd, body) { return }
            try Self.readLines(fd: fd, body)
        }
    }

    /// Calls `body` with the whole input when it is a regular file that can be mapped into
    /// memory (or bytes already in memory); returns nil, without calling `body`, otherwise.
    /// `populate: false` leaves a file's pages to be read in as they are touched (or by
    /// ``populate(_:)``, a part per thread).
    func withMappedBytes<R>(populate: Bool = true, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R? {
        switch self {
        case .bytes(let bytes):
            return try bytes.withUnsafeBufferPointer { try body($0) }
        case .standardInput:
            return nil
        case .file(let path):
            let fd = try Self.open(path)
            defer { close(fd) }
            return try Self.withMapping(fd: fd, populate: populate, body)
        }
    }

    /// The whole input as a read-only mapping that lives as long as the returned object, when it
    /// is a regular, non-empty file that can be mapped; nil otherwise.
    func mappedFile() throws -> MappedFile? {
        guard case .file(let path) = self else { return nil }
        let fd = try Self.open(path)
        defer { close(fd) }
        guard let (mapped, size) = Self.map(fd: fd) else { return nil }
        return MappedFile(UnsafeBufferPointer(start: mapped.assumingMemoryBound(to: UInt8.self), count: size))
    }

    /// A regular, non-empty file mapped read-only (populated up front on Linux); nil otherwise.
    private static func map(fd: Int32, populate: Bool = true) -> (UnsafeMutableRawPointer, Int)? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return nil }
        let size = Int(info.st_size)
        #if os(Linux)
        let flags = populate ? MAP_PRIVATE | MAP_POPULATE : MAP_PRIVATE
        #else
        let flags = MAP_PRIVATE
        #endif
        guard let mapped = mmap(nil, size, PROT_READ, flags, fd, 0), mapped != MAP_FAILED else { return nil }
        return (mapped, size)
    }

    /// Splits a regular file's lines straight from a read-only mapping (no copying); false
    /// when the file cannot be mapped (a pipe, say).
    private static func mapLines(fd: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Bool {
        try withMapping(fd: fd, sequential: true) { try splitLines($0, final: true, body) } != nil
    }

    /// Maps a regular, non-empty file read-only and calls `body` with its bytes; nil otherwise.
    private static func withMapping<R>(
        fd: Int32, sequential: Bool = false, populate: Bool = true, _ body: (UnsafeBufferPointer<UInt8>) throws -> R
    ) throws -> R? {
        guard let (mapped, size) = map(fd: fd, populate: populate) else { return nil }
        defer { munmap(mapped, size) }
        if sequential { _ = madvise(mapped, size, MADV_SEQUENTIAL) }
        return try body(UnsafeBufferPointer(start: mapped.assumingMemoryBound(to: UInt8.self), count: size))
    }

    /// Reads the pages of `bytes` in now (Linux's MADV_POPULATE_READ), as MAP_POPULATE does
    /// for a whole mapping: one call instead of a page fault every few pages. Does nothing
    /// where that is not available.
    static func populate(_ bytes: UnsafeBufferPointer<UInt8>) {
        #if os(Linux)
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) & ~(page - 1)
        let end = Int(bitPattern: base) + bytes.count
        let populateRead: Int32 = 22  // MADV_POPULATE_READ (Linux 5.14)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, populateRead)
        #endif
    }

    private static func open(_ path: String) throws -> Int32 {
        #if canImport(Glibc)
        let fd = Glibc.open(path, O_RDONLY)
        #elseif canImport(Musl)
        let fd = Musl.open(path, O_RDONLY)
        #else
        let fd = Darwin.open(path, O_RDONLY)
        #endif
        guard fd >= 0 else { throw InputError("cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Reads everything into memory (for formats that are not line oriented).
    func readAll() throws -> [UInt8] {
        switch self {
        case .bytes(let bytes):
            return bytes
        case .standardInput:
            return try Self.readAll(fd: 0)
        case .file(let path):
            let fd = try Self.open(path)
            defer { close(fd) }
            return try Self.readAll(fd: fd)
        }
    }

    private static func readAll(fd: Int32) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunkSize) }
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError("read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    private static func readLines(fd: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        var capacity = chunkSize * 2
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var filled = 0
        while true {
            if capacity - filled < chunkSize {
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.update(from: buffer, count: filled)
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
            let n = read(fd, buffer + filled, capacity - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError("read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                try splitLines(UnsafeBufferPointer(start: buffer, count: filled), final: true, body)
                return
            }
            filled += n
            let used = try splitLines(UnsafeBufferPointer(start: buffer, count: filled), final: false, body)
            if used > 0 {
                (buffer).update(from: buffer + used, count: filled - used)
                filled -= used
            }
        }
    }

    /// Splits complete lines off `bytes`; returns how many bytes were consumed.
    @discardableResult
    static func splitLines(
        _ bytes: UnsafeBufferPointer<UInt8>, final: Bool,
        _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var start = 0
        let count = bytes.count
        while start < count {
            guard let hit = memchr(base + start, 10, count - start) else { break }
            let end = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            try body(UnsafeBufferPointer(start: base + start, count: end - start))
            start = end + 1
        }
        if final && start < count {
            try body(UnsafeBufferPointer(start: base + start, count: count - start))
            start = count
        }
        return start
    }
}

/// A file mapped read-only into memory, unmapped when the last value holding it is gone: folded
/// stacks read from a file keep their bytes there instead of copying them.
final class MappedFile: @unchecked Sendable {  // immutable after init
    let bytes: UnsafeBufferPointer<UInt8>

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }

    /// Where `key` lies in these bytes, when it does.
    func range(of key: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        guard let base = bytes.baseAddress, let start = key.baseAddress else { return key.isEmpty ? 0..<0 : nil }
        let offset = start - base
        guard offset >= 0, offset + key.count <= bytes.count else { return nil }
        return offset..<(offset + key.count)
    }
}
