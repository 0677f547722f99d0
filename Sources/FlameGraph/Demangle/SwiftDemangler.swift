#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Swift runtime's own demangler (`swift_demangle`, exported by libswiftCore), so a perf
/// capture of a Swift program reads `DemoAppHandler.burnCPU(milliseconds:)` instead of
/// `$s7tugboat14DemoAppHandlerC7burnCPU12millisecondsS2i_tFTf4nd_n`.
public enum SwiftDemangler {
    /// The full demangled form (`tugboat.DemoAppHandler.burnCPU(milliseconds: Swift.Int) -> Swift.Int`),
    /// or nil when `symbol` is not a Swift symbol the runtime accepts.
    public static func demangle(_ symbol: String) -> String? {
        guard isSwiftSymbol(symbol.utf8) else { return nil }
        return symbol.withCString { pointer -> String? in
            guard let out = _swiftDemangle(pointer, strlen(pointer), nil, nil, 0) else { return nil }
            defer { free(out) }
            let text = String(cString: out)
            // A name it cannot read comes back as it went in.
            return text == symbol ? nil : text
        }
    }

    /// The form that reads like source: `DemoAppHandler.burnCPU(milliseconds:)`; nil when
    /// `symbol` is not Swift (kept as it is by the caller).
    public static func simplified(_ symbol: String) -> String? {
        demangle(symbol).map(SwiftNameSimplifier.simplify)
    }

    /// Mangled Swift names start with `$s`, `_$s`, `$S`, `_$S` (Swift 4.2+) or `_T0` (Swift 4).
    static func isSwiftSymbol(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        guard var first = iterator.next(), let second = iterator.next() else { return false }
        var next = second
        if first == UInt8(ascii: "_") {
            first = second
            guard let third = iterator.next() else { return false }
            if first == UInt8(ascii: "T") { return third == UInt8(ascii: "0") }
            next = third
        }
        return first == UInt8(ascii: "$") && (next == UInt8(ascii: "s") || next == UInt8(ascii: "S"))
    }
}

@_silgen_name("swift_demangle")
private func _swiftDemangle(_ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int,
                            _ outputBuffer: UnsafeMutablePointer<CChar>?, _ outputBufferSize: UnsafeMutablePointer<Int>?,
                            _ flags: UInt32) -> UnsafeMutablePointer<CChar>?
