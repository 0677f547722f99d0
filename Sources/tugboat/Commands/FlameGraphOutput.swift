import ArgumentParser
import FlameGraph

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The drawing options shared by `flamegraph` and `diff` (flamegraph.pl's names).
struct FlameGraphRenderArguments: ParsableArguments {
    @Option(help: "Title text (default: Flame Graph, Icicle Graph or Flame Chart).")
    var title: String?
    @Option(help: "Second-level title.")
    var subtitle: String?
    @Option(help: "Width of the image in pixels.")
    var width = 1200
    @Option(help: "Height of each frame in pixels.")
    var height = 16
    @Option(help: "Omit frames narrower than this many pixels, or this percentage with a % suffix.")
    var minwidth = "0.1"
    @Option(help: "Font family.")
    var fonttype = "Verdana"
    @Option(help: "Font size.")
    var fontsize = 12.0
    @Option(help: "Palette: \(Palette.allCases.map(\.rawValue).joined(separator: ", ")).")
    var colors = "hot"
    @Flag(help: "Colours keyed by function name hash.")
    var hash = false
    @Flag(help: "Reverse each stack (merge from the leaves).")
    var reverse = false
    @Flag(help: "Icicle graph (root at the top).")
    var inverted = false
    @Flag(help: "Flame chart: keep input order, do not merge separated stacks.")
    var flamechart = false
    @Flag(help: "Differential graphs: switch the hues (blue grew, red shrank).")
    var negate = false
    @Option(help: "What the counts are.")
    var countname = "samples"
    @Option(help: "What the names are.")
    var nametype = "Function:"

    /// The options as plain values (what ``FastCommandLine`` fills in without ArgumentParser).
    var settings: RenderSettings {
        RenderSettings(title: title, subtitle: subtitle, width: width, height: height, minwidth: minwidth,
                       fonttype: fonttype, fontsize: fontsize, colors: colors, hash: hash, reverse: reverse,
                       inverted: inverted, flamechart: flamechart, negate: negate, countname: countname, nametype: nametype)
    }

    func options() throws -> FlameGraphOptions {
        do {
            return try settings.options()
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// The drawing options of `flamegraph` and `diff` as values, with their defaults, checked by
/// ``options()``: shared by ArgumentParser's path and ``FastCommandLine``.
struct RenderSettings: Equatable {
    var title: String?
    var subtitle: String?
    var width = 1200
    var height = 16
    var minwidth = "0.1"
    var fonttype = "Verdana"
    var fontsize = 12.0
    var colors = "hot"
    var hash = false
    var reverse = false
    var inverted = false
    var flamechart = false
    var negate = false
    var countname = "samples"
    var nametype = "Function:"

    /// A value out of range, with the message ArgumentParser prints.
    struct Invalid: Error {
        let message: String
    }

    func options() throws(Invalid) -> FlameGraphOptions {
        var o = FlameGraphOptions()
        o.title = title
        o.subtitle = subtitle ?? ""
        guard width > 20 else { throw Invalid(message: "--width must be more than 20") }
        guard height > 0 else { throw Invalid(message: "--height must be positive") }
        guard fontsize > 0 else { throw Invalid(message: "--fontsize must be positive") }
        o.width = width
        o.frameHeight = height
        guard let min = FlameGraphOptions.MinWidth(parsing: minwidth) else {
            throw Invalid(message: "--minwidth \(minwidth) is not a number of pixels or a percentage (0.1, 0.5%)")
        }
        o.minWidth = min
        o.fontType = fonttype
        o.fontSize = fontsize
        guard let palette = Palette(rawValue: colors) else {
            throw Invalid(message: "--colors \(colors): choose one of \(Palette.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        o.palette = palette
        o.hashColors = hash
        o.reverse = reverse
        o.inverted = inverted
        o.flameChart = flamechart
        o.negate = negate
        o.countName = countname
        o.nameType = nametype
        return o
    }
}

func fileSource(_ path: String?) -> ByteSource {
    guard let path, path != "-" else { return .standardInput }
    return .file(path)
}

func writeOutput(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBufferPointer(writeOutput)
}

func writeFolded(_ stacks: FoldedStacks) throws {
    try stacks.writeFolded(writeOutput)
}

func writeOutput(_ bytes: UnsafeBufferPointer<UInt8>) throws {
    var offset = 0
    while offset < bytes.count {
        let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            throw ValidationError("cannot write the output: \(String(cString: strerror(errno)))")
        }
        offset += n
    }
}

func writeError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
