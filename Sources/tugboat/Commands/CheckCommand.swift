import ArgumentParser
import Foundation
import TugboatCore
import TugboatRuntime

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a config file; prints FILE:LINE: message and exits 1 on the first error."
    )

    @Option(name: .shortAndLong, help: "The YAML config file.")
    var config: String

    func run() throws {
        do {
            let loaded = try ConfigCheck.load(path: config)
            for warning in loaded.warnings { FileHandle.standardError.write("warning: \(warning)\n".data(using: .utf8)!) }
            print("\(config): ok (listen \(loaded.listen), \(loaded.pool.backends.count) backend(s), admin \(loaded.admin.listen))")
        } catch let error as ConfigError {
            FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}
