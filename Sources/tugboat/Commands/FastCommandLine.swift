#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `tugboat flamegraph` and `tugboat collapse perf` run without ArgumentParser when their command
/// line is plain: ArgumentParser's first parse looks up protocol conformances by scanning every
/// conformance record of the binary and reflects over the commands, a few milliseconds of a
/// command that takes twenty.
///
/// Plain means: only these commands' own long options, each at most once, written `--name value`
/// or `--name=value`, values neither empty nor starting with `-`, and at most the positional arguments
/// the command takes, none starting with `-` nor named `help`; and the values pass the same
/// checks. Anything else (help, a typo, a missing value, a bad number, `-` for standard input)
/// goes to ArgumentParser, so help, errors and exit statuses are ArgumentParser's, unchanged.
/// `TUGBOAT_ARGUMENT_PARSER_ONLY=1` in the environment turns this path off (tests compare both).
enum FastCommandLine {
    /// A command line understood here.
    enum Command: Equatable {
        case flameGraph(file: String?, settings: RenderSettings)
        case collapsePerf(file: String?, settings: PerfSettings)
    }

    /// Runs `arguments` (without the program's name) and returns the exit status, or nil,
    /// having done nothing, when ArgumentParser must handle them.
    static func run(_ arguments: [String]) -> Int32? {
        guard getenv("TUGBOAT_ARGUMENT_PARSER_ONLY") == nil, let command = parse(arguments) else { return nil }
        do {
            switch command {
            case .flameGraph(let file, let settings):
                guard let options = try? settings.options() else { return nil }
                try FlameGraphCommand.draw(file: file, options: options)
            case .collapsePerf(let file, let settings):
                try settings.collapse(fileSource(file))
            }
        } catch {
            Tugboat.exit(withError: error)
        }
        return 0
    }

    /// Ends the process with `status` (the C library's `exit`: inside a command, `exit` is
    /// ArgumentParser's).
    static func exit(_ status: Int32) -> Never {
        #if canImport(Glibc)
        Glibc.exit(status)
        #elseif canImport(Musl)
        Musl.exit(status)
        #else
        Darwin.exit(status)
        #endif
    }

    /// The command `arguments` spell, when plain (see the type's documentation).
    static func parse(_ arguments: [String]) -> Command? {
        guard let name = arguments.first else { return nil }
        switch name {
        case "flamegraph":
            guard let line = split(arguments.dropFirst(), values: renderValues, flags: renderFlags), line.positional.count <= 1 else {
                return nil
            }
            var settings = RenderSettings()
            for (option, value) in line.options {
                guard setRender(option, value, in: &settings) else { return nil }
            }
            return .flameGraph(file: line.positional.first, settings: settings)
        case "collapse":
            guard let line = split(arguments.dropFirst(), values: perfValues, flags: perfFlags),
                  line.positional.first == "perf", line.positional.count <= 2 else { return nil }
            var settings = PerfSettings()
            for (option, value) in line.options {
                guard setPerf(option, value, in: &settings) else { return nil }
            }
            return .collapsePerf(file: line.positional.count == 2 ? line.positional[1] : nil, settings: settings)
        default:
            return nil
        }
    }

    // Arrays, not sets: a few comparisons cost less than hashing with a seeded hasher.
    private static let renderValues = [
        "title", "subtitle", "width", "height", "minwidth", "fonttype", "fontsize", "colors", "countname", "nametype",
    ]
    private static let renderFlags = ["hash", "reverse", "inverted", "flamechart", "negate"]
    private static let perfValues = ["event-filter", "threads"]
    private static let perfFlags = ["pid", "tid", "kernel", "jit", "all", "addrs", "demangle"]

    /// Options (a flag's value is nil) and positional arguments, or nil when not plain.
    private static func split(
        _ arguments: ArraySlice<String>, values: [String], flags: [String]
    ) -> (options: [(String, String?)], positional: [String])? {
        var options: [(String, String?)] = []
        var seen: [String] = []
        var positional: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("-") else {
                guard !argument.isEmpty, argument != "help" else { return nil }
                positional.append(argument)
                continue
            }
            guard argument.hasPrefix("--") else { return nil }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard !seen.contains(name) else { return nil }
            seen.append(name)
            if flags.contains(name) {
                guard value == nil else { return nil }
                options.append((name, nil))
            } else if values.contains(name) {
                if value == nil { value = rest.popFirst() }
                guard let value, !value.isEmpty, !value.hasPrefix("-") else { return nil }
                options.append((name, value))
            } else {
                return nil
            }
        }
        return (options, positional)
    }

    private static func setRender(_ option: String, _ value: String?, in s: inout RenderSettings) -> Bool {
        switch (option, value) {
        case ("title", let v?): s.title = v
        case ("subtitle", let v?): s.subtitle = v
        case ("width", let v?): guard let n = Int(v) else { return false }; s.width = n
        case ("height", let v?): guard let n = Int(v) else { return false }; s.height = n
        case ("minwidth", let v?): s.minwidth = v
        case ("fonttype", let v?): s.fonttype = v
        case ("fontsize", let v?): guard let n = Double(v) else { return false }; s.fontsize = n
        case ("colors", let v?): s.colors = v
        case ("countname", let v?): s.countname = v
        case ("nametype", let v?): s.nametype = v
        case ("hash", nil): s.hash = true
        case ("reverse", nil): s.reverse = true
        case ("inverted", nil): s.inverted = true
        case ("flamechart", nil): s.flamechart = true
        case ("negate", nil): s.negate = true
        default: return false
        }
        return true
    }

    private static func setPerf(_ option: String, _ value: String?, in s: inout PerfSettings) -> Bool {
        switch (option, value) {
        case ("event-filter", let v?): s.eventFilter = v
        case ("threads", let v?): guard let n = Int(v) else { return false }; s.threads = n
        case ("pid", nil): s.pid = true
        case ("tid", nil): s.tid = true
        case ("kernel", nil): s.kernel = true
        case ("jit", nil): s.jit = true
        case ("all", nil): s.all = true
        case ("addrs", nil): s.addrs = true
        case ("demangle", nil): s.demangle = true
        default: return false
        }
        return true
    }
}
