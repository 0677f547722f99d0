/// The label drawn inside a frame: the name cut to the characters that fit, ending in `..`.
struct FrameLabel: Sendable {
    /// Removes a trailing `_[k]`, `_[w]`, `_[i]` or `_[j]` annotation.
    static func stripAnnotation(_ name: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let n = name.count
        guard n >= 4 else { return name }
        let s = name.startIndex + n - 4
        let kind = name[s + 2]
        if name[s] == 0x5F, name[s + 1] == 0x5B, name[s + 3] == 0x5D,
           kind == 0x6B || kind == 0x77 || kind == 0x69 || kind == 0x6A {
            return name[name.startIndex..<s]
        }
        return name
    }

    /// Appends `name` cut to `chars` characters (`substr`, then the last two replaced by `..`).
    mutating func append(_ name: ArraySlice<UInt8>, chars: Int, to w: inout ByteWriter) {
        // Fast path: ASCII names count characters as bytes.
        if name.count <= chars {
            w.escaped(name)
            return
        }
        var characters = 0
        var keepEnd = name.startIndex
        var tooLong = false
        for i in name.indices where name[i] & 0xC0 != 0x80 {
            if characters == chars - 2 { keepEnd = i }
            if characters == chars {
                tooLong = true
                break
            }
            characters += 1
        }
        guard tooLong else {
            w.escaped(name)
            return
        }
        w.escaped(name[name.startIndex..<keepEnd])
        w.raw("..")
    }
}
