import ArgumentParser
import FlameGraph

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
