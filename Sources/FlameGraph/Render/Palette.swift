/// Colour palettes of flamegraph.pl (`--colors`).
public enum Palette: String, Sendable, CaseIterable {
    case hot, mem, io, wakeup, java, js, perl, red, green, blue, aqua, yellow, purple, orange

    /// The background gradient flamegraph.pl picks for this palette.
    var background: (String, String) {
        switch self {
        case .mem: return ("#eef2ee", "#e0ffe0")
        case .io, .wakeup: return ("#eeeeee", "#e0e0ff")
        case .red, .green, .blue, .aqua, .yellow, .purple, .orange: return ("#f8f8f8", "#e8e8e8")
        default: return ("#eeeeee", "#eeeeb0")
        }
    }

    /// The colour of a frame whose name is the UTF-8 `bytes`: the seeded palettes (`hot`, `mem`,
    /// `io` without `--hash`) need only the sum of the name's code points, which for an ASCII name
    /// is the sum of its bytes, so the common case reads the bytes and builds no `String`.
    func color(forUTF8 bytes: ArraySlice<UInt8>, hashByName: Bool) -> RGB {
        if !hashByName, self == .hot || self == .mem || self == .io {
            var sum: UInt32 = 0
            var ascii = true
            for byte in bytes {
                ascii = ascii && byte < 0x80
                sum = sum &+ UInt32(byte)
            }
            if ascii {
                let v = PerlRandom.first(seed: sum)
                return ramp(v, v, v)
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return color(for: Substring(text).unicodeScalars, hashByName: hashByName)
    }

    /// The colour of a frame named `name` (with any `_[k]`-style annotation still on it).
    /// `hashByName` is `--hash`; otherwise the colour is the pseudo-random one flamegraph.pl
    /// seeds from the name, so the same function gets the same colour in every graph.
    func color(for name: Substring.UnicodeScalarView, hashByName: Bool) -> RGB {
        let v1, v2, v3: Double
        if hashByName {
            v1 = Self.nameHash(Array(name))
            v2 = Self.nameHash(Array(name.reversed()))
            v3 = v2
        } else {
            var sum: UInt32 = 0
            for scalar in name { sum = sum &+ scalar.value }
            let r = PerlRandom.first(seed: sum)
            (v1, v2, v3) = (r, r, r)
        }
        switch self {
        case .hot, .mem, .io: return ramp(v1, v2, v3)
        default: return Self.base(resolve(String(String.UnicodeScalarView(name))), v1)
        }
    }

    /// `hot`, `mem` and `io`: colours from three random values.
    private func ramp(_ v1: Double, _ v2: Double, _ v3: Double) -> RGB {
        switch self {
        case .hot: return RGB(205 + Int(50 * v3), 0 + Int(230 * v1), 0 + Int(55 * v2))
        case .mem: return RGB(0, 190 + Int(50 * v2), 0 + Int(210 * v1))
        default:
            let r = 80 + Int(60 * v1)
            return RGB(r, r, 190 + Int(55 * v2))
        }
    }

    /// The single-hue palette a multi-palette (java, js, perl, wakeup) picks for a name.
    private func resolve(_ name: String) -> Palette {
        switch self {
        case .java:
            if name.hasSuffix("_[j]") { return .green }
            if name.hasSuffix("_[i]") { return .aqua }
            if Self.isJavaPackage(name) { return .green }
            if name.contains(":::") { return .green }
            if name.contains("::") { return .yellow }
            if name.hasSuffix("_[k]") { return .orange }
            return .red
        case .perl:
            if name.contains("::") { return .yellow }
            if name.contains("Perl") || name.contains(".pl") { return .green }
            if name.hasSuffix("_[k]") { return .orange }
            return .red
        case .js:
            if name.hasSuffix("_[j]") { return name.contains("/") ? .green : .aqua }
            if name.contains("::") { return .yellow }
            if let slash = name.firstIndex(of: "/"), name[slash...].contains(".js") { return .green }
            if name.contains(":") { return .aqua }
            if name == " " { return .green }
            if name.contains("_[k]") { return .orange }
            return .red
        case .wakeup:
            return .aqua
        default:
            return self
        }
    }

    /// `m:^L?(java|javax|jdk|net|org|com|io|sun)/:`
    private static func isJavaPackage(_ name: String) -> Bool {
        var rest = Substring(name)
        if rest.hasPrefix("L") { rest = rest.dropFirst() }
        for prefix in ["java/", "javax/", "jdk/", "net/", "org/", "com/", "io/", "sun/"] where rest.hasPrefix(prefix) {
            return true
        }
        // "L" may also be the first letter of nothing special: try without dropping it.
        for prefix in ["java/", "javax/", "jdk/", "net/", "org/", "com/", "io/", "sun/"] where name.hasPrefix(prefix) {
            return true
        }
        return false
    }

    private static func base(_ palette: Palette, _ v1: Double) -> RGB {
        switch palette {
        case .red:
            let x = 50 + Int(80 * v1)
            return RGB(200 + Int(55 * v1), x, x)
        case .green:
            let x = 50 + Int(60 * v1)
            return RGB(x, 200 + Int(55 * v1), x)
        case .blue:
            let x = 80 + Int(60 * v1)
            return RGB(x, x, 205 + Int(50 * v1))
        case .yellow:
            let x = 175 + Int(55 * v1)
            return RGB(x, x, 50 + Int(20 * v1))
        case .purple:
            let x = 190 + Int(65 * v1)
            return RGB(x, 80 + Int(60 * v1), x)
        case .aqua:
            return RGB(50 + Int(60 * v1), 165 + Int(55 * v1), 165 + Int(55 * v1))
        case .orange:
            return RGB(190 + Int(65 * v1), 90 + Int(65 * v1), 0)
        default:
            return RGB(0, 0, 0)
        }
    }

    /// flamegraph.pl's `namehash`: weights the first three characters, after dropping a
    /// `module`` prefix.
    static func nameHash(_ scalars: [Unicode.Scalar]) -> Double {
        var chars = scalars[...]
        if let tick = chars.dropFirst().firstIndex(of: "`") { chars = chars[(tick + 1)...] }
        var vector = 0.0, weight = 1.0, max = 1.0, mod = 10.0
        for c in chars {
            let i = Double(c.value % UInt32(mod))
            vector += (i / (mod - 1)) * weight
            mod += 1
            max += weight
            weight *= 0.70
            if mod > 12 { break }
        }
        return 1 - vector / max
    }

    /// The colour of a differential frame: red grew, blue shrank, white unchanged.
    static func differential(delta: Double, maxDelta: Double, negate: Bool) -> RGB {
        let value = negate ? -delta : delta
        if value > 0 {
            let gb = Int(210 * (maxDelta - value) / maxDelta)
            return RGB(255, gb, gb)
        } else if value < 0 {
            let rg = Int(210 * (maxDelta + value) / maxDelta)
            return RGB(rg, rg, 255)
        }
        return RGB(255, 255, 255)
    }
}

/// A colour, written as `rgb(r,g,b)`.
struct RGB: Sendable, Equatable {
    var r, g, b: Int
    init(_ r: Int, _ g: Int, _ b: Int) { (self.r, self.g, self.b) = (r, g, b) }

    func append(to out: inout [UInt8]) {
        out.append(contentsOf: "rgb(".utf8)
        NumberFormat.appendInteger(UInt64(max(0, r)), to: &out)
        out.append(0x2C)
        NumberFormat.appendInteger(UInt64(max(0, g)), to: &out)
        out.append(0x2C)
        NumberFormat.appendInteger(UInt64(max(0, b)), to: &out)
        out.append(0x29)
    }
}

/// Perl's `srand(seed); rand(1)` (Perl >= 5.20 uses its own drand48 on every platform).
enum PerlRandom {
    static func first(seed: UInt32) -> Double {
        var x = (UInt64(seed) << 16) &+ 0x330E
        x = (x &* 0x5DEECE66D &+ 0xB) & 0xFFFF_FFFF_FFFF
        return Double(x) / 281_474_976_710_656.0
    }
}
