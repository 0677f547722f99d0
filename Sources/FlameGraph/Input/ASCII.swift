/// Byte classes as Perl's regular expressions see them on byte strings.
enum ASCII {
    static let space: UInt8 = 0x20
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let semicolon: UInt8 = 0x3B
    static let colon: UInt8 = 0x3A
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30

    /// Perl's `\s`: space, \t, \n, \v, \f, \r.
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x09 && b <= 0x0D)
    }

    /// Perl's `\d` on bytes.
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// Perl's `\w` on bytes: letters, digits, underscore.
    @inline(__always) static func isWord(_ b: UInt8) -> Bool {
        isDigit(b) || (b | 0x20) &- 0x61 < 26 || b == 0x5F
    }

    /// Lower-case hex digit or decimal digit (`[\da-f]`).
    @inline(__always) static func isLowerHex(_ b: UInt8) -> Bool {
        isDigit(b) || b &- 0x61 < 6
    }

    /// Any-case hex digit (`[0-9a-fA-F]`).
    @inline(__always) static func isHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b | 0x20) &- 0x61 < 6
    }
}
