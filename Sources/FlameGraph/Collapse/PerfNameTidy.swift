/// stackcollapse-perf.pl's clean-ups of function names and module tests, on bytes.
enum PerfNameTidy {
    private static let anonymous = Array("anonymous namespace)".utf8)

    /// `s/;/:/g`; unless it looks like a Go method (`.(...).`), cut at the first `(` that does
    /// not open `(anonymous namespace)`; then delete `"` and `'`.
    static func tidyGeneric(_ f: inout [UInt8]) {
        for i in f.indices where f[i] == ASCII.semicolon { f[i] = ASCII.colon }
        if !looksLikeGoMethod(f) {
            var i = 0
            while i < f.count {
                if f[i] == 0x28 && !followsAnonymous(f, at: i + 1) {
                    f.removeSubrange(i...)
                    break
                }
                i += 1
            }
        }
        if f.contains(where: { $0 == 0x22 || $0 == 0x27 }) {
            f.removeAll { $0 == 0x22 || $0 == 0x27 }
        }
    }

    /// `m/\.\(.*\)\./`
    private static func looksLikeGoMethod(_ f: [UInt8]) -> Bool {
        guard f.count >= 4 else { return false }
        var i = 0
        while i + 1 < f.count, !(f[i] == ASCII.dot && f[i + 1] == 0x28) { i += 1 }
        guard i + 1 < f.count else { return false }
        var j = i + 2
        while j + 1 < f.count {
            if f[j] == 0x29 && f[j + 1] == ASCII.dot { return true }
            j += 1
        }
        return false
    }

    private static func followsAnonymous(_ f: [UInt8], at start: Int) -> Bool {
        guard f.count - start >= anonymous.count else { return false }
        for k in 0..<anonymous.count where f[start + k] != anonymous[k] { return false }
        return true
    }

    /// Whether `haystack` contains `needle`.
    static func contains(_ haystack: [UInt8], _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard haystack.count >= n else { return false }
        return needle.withUTF8Buffer { pattern in
            outer: for start in 0...(haystack.count - n) {
                for k in 0..<n where haystack[start + k] != pattern[k] { continue outer }
                return true
            }
            return false
        }
    }

    /// `$mod =~ m/(^\[|vmlinux$)/ && $mod !~ /unknown/`
    static func isKernelModule(_ module: UnsafeBufferPointer<UInt8>) -> Bool {
        let vmlinux = Array("vmlinux".utf8)
        let kernel = module.first == 0x5B || (module.count >= 7 && module.suffix(7).elementsEqual(vmlinux))
        return kernel && !contains(Array(module), "unknown")
    }

    /// `$mod =~ m:/tmp/perf-\d+\.map:`
    static func isJITModule(_ module: UnsafeBufferPointer<UInt8>) -> Bool {
        let prefix = Array("/tmp/perf-".utf8)
        let m = Array(module)
        guard m.count >= prefix.count + 5 else { return false }
        for start in 0...(m.count - prefix.count) where m[start..<(start + prefix.count)].elementsEqual(prefix) {
            var i = start + prefix.count
            let digits = i
            while i < m.count, ASCII.isDigit(m[i]) { i += 1 }
            if i > digits, m.count - i >= 4, m[i..<(i + 4)].elementsEqual(".map".utf8) { return true }
        }
        return false
    }
}
