import ArgumentParser
import TugboatCore

@main
struct Tugboat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tugboat",
        abstract: "A reverse proxy that watches, pages, scales and explains your web application.",
        version: BuildInfo.line,
        subcommands: [
            ServeCommand.self, CheckCommand.self, DemoCommand.self, DemoAppCommand.self, HealthcheckCommand.self,
            FlameGraphCommand.self, CollapseCommand.self, DiffCommand.self,
        ]
    )

    /// `flamegraph` and `collapse perf` with a plain command line start without ArgumentParser
    /// (``FastCommandLine``); everything else is parsed by it.
    static func main() async {
        if let status = FastCommandLine.run(Array(CommandLine.arguments.dropFirst())) { FastCommandLine.exit(status) }
        await main(nil)
    }
}
