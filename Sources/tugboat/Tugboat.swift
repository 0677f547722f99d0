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
}
