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
        try Self.draw(file: file, options: render.options())
    }

    /// Reads folded stacks from `file` (standard input when nil or `-`) and writes the SVG.
    static func draw(file: String?, options: FlameGraphOptions) throws {
        // Not merged while read: the layout sorts the stacks and draws a repeated one as one
        // (flamegraph.pl's way), so hashing every line to merge it first would be wasted.
        let reader = try FoldedReader.read(fileSource(file), merging: false)
        if reader.invalidLines > 0 {
            writeError("Ignored \(reader.invalidLines) lines with invalid format\n")
        }
        if reader.stacks.total == 0 { writeError("No stack counts found: nothing to draw\n") }
        try writeOutput(FlameGraphRenderer(options: options).render(reader.stacks))
    }
}
