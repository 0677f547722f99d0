/// The environment of every child Tugboat starts (instances, scripts, profilers, `command`
/// channels): a few harmless variables of Tugboat's own — never its secrets, such as the admin or
/// Twilio tokens — plus what the config names under `env:` for that child. Pure.
package enum ChildEnvironment {
    /// The variables passed on from Tugboat's environment: `PATH`, `HOME`, `LANG`, `LC_*`, `TZ`, `TMPDIR`.
    package static func isPassedOn(_ name: String) -> Bool {
        ["PATH", "HOME", "LANG", "TZ", "TMPDIR"].contains(name) || name.hasPrefix("LC_")
    }

    /// The passed-on part of `parent`, with `extra` on top.
    package static func make(parent: [String: String], adding extra: [String: String]) -> [String: String] {
        var environment = parent.filter { isPassedOn($0.key) }
        for (name, value) in extra { environment[name] = value }
        return environment
    }
}
