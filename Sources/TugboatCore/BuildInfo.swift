import CBuildInfo

/// What this binary is: `tugboat --version` and `tugboat_build_info{version,commit}` in /metrics.
public enum BuildInfo {
    /// The release version (also the Debian package's version).
    public static let version = "0.5.0"
    /// The git commit written in at build time by `packaging/build.sh`, or "unknown".
    public static let commit = String(cString: tugboat_build_commit())
    /// `tugboat 0.5.0 (1a2b3c4)`
    public static var line: String { "tugboat \(version) (\(commit))" }
}
