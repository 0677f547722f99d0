import Foundation
@_exported import TestSupport

extension ChildProcess {
    /// The program under test (`tugboat`) unless another is named.
    convenience init(arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(executable: tugboatExecutable, arguments: arguments, environment: environment)
    }
}
