#if canImport(Glibc)
import Glibc
#endif

/// The C library's allocator tuned for a short batch command (`collapse perf`): blocks it frees
/// are kept for its next allocations instead of going back to the kernel, so that a growing
/// table or a part's scratch memory is not page-faulted in afresh each time. Not for the daemon.
enum BatchMemory {
    static func keepFreedMemory() {
        #if canImport(Glibc)
        // glibc's mallopt (not in Swift's Glibc module): M_TRIM_THRESHOLD -1, M_TOP_PAD -2,
        // M_MMAP_THRESHOLD -3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let large: Int32 = 256 << 20
        _ = mallopt(-3, large)
        _ = mallopt(-1, large)
        _ = mallopt(-2, 64 << 20)
        #endif
    }
}
