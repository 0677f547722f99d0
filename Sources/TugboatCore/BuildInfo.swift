import CBuildInfo

/// What this binary is: `tugboat --version` and `tugboat_build_info{version,commit}` in /metrics.
package enum BuildInfo {
    /// The release version (also the Debian package's version).
    package static let version = "0.5.0"
    /// The git commit written in at build time by `packaging/build.sh`, or "unknown".
    package static let commit = String(cString: tugboat_build_commit())
    /// `tugboat 0.5.0 (1a2b3c4)`
    package static var line: String { "tugboat \(version) (\(commit))" }
}
