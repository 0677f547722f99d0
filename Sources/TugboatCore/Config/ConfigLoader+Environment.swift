// Parsing of `env:` (a child's environment: process and exec providers, command channels).
extension ConfigLoader {
    /// `env: { NAME: value, ... }`: names of letters, digits and `_`, not starting with a digit.
    package static func parseEnvironment(_ value: YAMLValue) throws -> [String: String] {
        var environment: [String: String] = [:]
        for (name, field) in try value.orderedMapping() {
            let valid = !name.isEmpty && !name.first!.isNumber
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard valid else {
                throw field.error("'\(value.key)': '\(name.prefix(40))' is not an environment variable name (letters, digits and _)")
            }
            environment[name] = try field.string()
        }
        return environment
    }
}
