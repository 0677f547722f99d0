import ArgumentParser
import FlameGraph

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
    @Option(help: "perf: threads for large files (default: one per core, at most 8).")
    var threads: Int?
    @Option(name: .customLong("sample-type"), help: "pprof: the sample type (name or index) to weigh stacks by (default: the profile's default_sample_type, else the last one, as pprof picks it).")
    var sampleType: String?

    /// The perf options as plain values.
    var perfSettings: PerfSettings {
        PerfSettings(pid: pid, tid: tid, kernel: kernel, jit: jit, all: all, addrs: addrs, demangle: demangle,
                     eventFilter: eventFilter, threads: threads)
    }

    func run() throws {
        let source = fileSource(file)
        switch format {
        case .perf:
            try perfSettings.collapse(source)
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

/// `collapse perf`'s options as values: shared by ArgumentParser's path and ``FastCommandLine``.
struct PerfSettings: Equatable {
    var pid = false
    var tid = false
    var kernel = false
    var jit = false
    var all = false
    var addrs = false
    var demangle = false
    var eventFilter: String?
    var threads: Int?

    /// Collapses `source` and writes the folded stacks (notices and the count of lines not
    /// understood on standard error).
    func collapse(_ source: ByteSource) throws {
        BatchMemory.keepFreedMemory()
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
        if demangle {
            try writeFolded(collapser.stacks.demanglingSwiftFrames())
        } else {
            try collapser.writeFolded(writeOutput)
        }
    }
}
