import ArgumentParser
import FlameGraph

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `tugboat flamegraph [FILE]`: folded stacks -> interactive SVG on stdout.
struct FlameGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flamegraph",
        abstract: "Draw folded stacks (a;b;c 12) as an interactive SVG flame graph on stdout.",
        discussion: "Reads FILE, or standard input when no FILE is given. The options are flamegraph.pl's."
    )

    @Argument(help: "Folded stacks; standard input when omitted.")
    var file: String?

    @OptionGroup var render: FlameGraphRenderArguments

    func run() throws {
        let options = try render.options()
        let reader = try FoldedReader.read(fileSource(file), merging: !options.flameChart)
        if reader.invalidLines > 0 {
            writeError("Ignored \(reader.invalidLines) lines with invalid format\n")
        }
        if reader.stacks.total == 0 { writeError("No stack counts found: nothing to draw\n") }
        try writeOutput(FlameGraphRenderer(options: options).render(reader.stacks))
    }
}

/// `tugboat collapse FORMAT [FILE]`: a profiler's output -> folded stacks on stdout.
struct CollapseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "Convert a profile to folded stacks (one `a;b;c count` line per stack).",
        discussion: """
            Formats: perf (`perf script` output, as stackcollapse-perf.pl), pprof (profile.proto, \
            gzipped or not), stackprof (JSON, with raw samples), speedscope (JSON, sampled or evented), \
            pyspy (py-spy record --format raw).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case perf, pprof, stackprof, speedscope, pyspy
    }

    @Argument(help: "Input format: perf, pprof, stackprof, speedscope or pyspy.")
    var format: Format

    @Argument(help: "The profile; standard input when omitted.")
    var file: String?

    @Flag(help: "perf: include PID with process names.")
    var pid = false
    @Flag(help: "perf: include TID and PID with process names.")
    var tid = false
    @Flag(help: "perf: annotate kernel functions with _[k].")
    var kernel = false
    @Flag(help: "perf: annotate JIT functions with _[j].")
    var jit = false
    @Flag(help: "perf: all annotations (--kernel --jit).")
    var all = false
    @Flag(help: "perf: include raw addresses where symbols cannot be found.")
    var addrs = false
    @Flag(help: "perf: Swift frames in their readable form (DemoAppHandler.burnCPU(milliseconds:)), with the Swift runtime's demangler.")
    var demangle = false
    @Option(name: .customLong("event-filter"), help: "perf: keep only this event (default: the first event seen).")
    var eventFilter: String?
    @Option(help: "perf: threads for large files (default: the cores free when it starts, at most 8).")
    var threads: Int?
    @Option(name: .customLong("sample-type"), help: "pprof: the sample type (name or index) to weigh stacks by (default: the profile's default_sample_type, else the last one, as pprof picks it).")
    var sampleType: String?

    func run() throws {
        let source = fileSource(file)
        switch format {
        case .perf:
            var options = PerfCollapseOptions()
            options.includePID = pid
            options.includeTID = tid
            options.annotateKernel = kernel || all
            options.annotateJIT = jit || all
            options.includeAddresses = addrs
            options.eventFilter = eventFilter ?? ""
            let collapser = try PerfCollapser.collapse(source, options: options, threads: max(1, threads ?? PerfCollapser.defaultThreads))
            for notice in collapser.notices { writeError(notice + "\n") }
            if collapser.unrecognizedLines > 0 {
                writeError("Ignored \(collapser.unrecognizedLines) unrecognized lines\n")
            }
            try writeFolded(demangle ? collapser.stacks.demanglingSwiftFrames() : collapser.stacks)
        case .pprof:
            try writeFolded(PprofCollapser.collapse(source, sampleType: sampleType))
        case .stackprof:
            try writeFolded(StackprofCollapser.collapse(source))
        case .speedscope:
            try writeFolded(SpeedscopeCollapser.collapse(source))
        case .pyspy:
            let reader = try FoldedReader.read(source)
            if reader.invalidLines > 0 { writeError("Ignored \(reader.invalidLines) lines with invalid format\n") }
            try writeFolded(reader.stacks)
        }
    }
}

/// `tugboat diff BEFORE AFTER`: two folded profiles -> differential SVG (difffolded.pl + flamegraph.pl).
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Draw a differential flame graph: widths from AFTER, red frames grew, blue shrank.",
        discussion: "BEFORE and AFTER are folded stacks (from `tugboat collapse`)."
    )

    @Argument(help: "The baseline profile (folded stacks; - for standard input).")
    var before: String
    @Argument(help: "The profile to compare (folded stacks; - for standard input).")
    var after: String

    @Flag(name: [.short, .long], help: "Scale BEFORE so both profiles have the same total.")
    var normalize = false
    @Flag(name: [.short, .customLong("strip-hex")], help: "Replace hexadecimal addresses with 0x... before comparing.")
    var stripHex = false
    @Flag(help: "Print the combined folded stacks (stack before after) instead of the SVG.")
    var folded = false

    @OptionGroup var render: FlameGraphRenderArguments

    func run() throws {
        let options = try render.options()
        guard !(before == "-" && after == "-") else { throw ValidationError("only one of BEFORE and AFTER can be standard input") }
        let first = try FoldedReader.read(fileSource(before))
        let second = try FoldedReader.read(fileSource(after))
        let invalid = first.invalidLines + second.invalidLines
        if invalid > 0 { writeError("Ignored \(invalid) lines with invalid format\n") }
        let combined = DifferentialStacks(normalize: normalize, stripHex: stripHex)
            .combine(before: first.stacks, after: second.stacks)
        if folded {
            try writeFolded(combined)
        } else {
            try writeOutput(FlameGraphRenderer(options: options).render(combined))
        }
    }
}

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

    func options() throws -> FlameGraphOptions {
        var o = FlameGraphOptions()
        o.title = title
        o.subtitle = subtitle ?? ""
        guard width > 20 else { throw ValidationError("--width must be more than 20") }
        guard height > 0 else { throw ValidationError("--height must be positive") }
        guard fontsize > 0 else { throw ValidationError("--fontsize must be positive") }
        o.width = width
        o.frameHeight = height
        guard let min = FlameGraphOptions.MinWidth(parsing: minwidth) else {
            throw ValidationError("--minwidth \(minwidth) is not a number of pixels or a percentage (0.1, 0.5%)")
        }
        o.minWidth = min
        o.fontType = fonttype
        o.fontSize = fontsize
        guard let palette = Palette(rawValue: colors) else {
            throw ValidationError("--colors \(colors): choose one of \(Palette.allCases.map(\.rawValue).joined(separator: ", "))")
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

private func fileSource(_ path: String?) -> ByteSource {
    guard let path, path != "-" else { return .standardInput }
    return .file(path)
}

private func writeOutput(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBufferPointer(writeOutput)
}

private func writeFolded(_ stacks: FoldedStacks) throws {
    try stacks.writeFolded(writeOutput)
}

private func writeOutput(_ bytes: UnsafeBufferPointer<UInt8>) throws {
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

private func writeError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
