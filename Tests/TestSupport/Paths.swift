import Foundation

/// The built `tugboat` binary: beside the test bundle, unless `TUGBOAT_BIN` says otherwise.
package var tugboatExecutable: String {
    if let explicit = ProcessInfo.processInfo.environment["TUGBOAT_BIN"] { return explicit }
    return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("tugboat").path
}

/// The repository's root directory (for `examples/`, fixtures and scripts).
package let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
