import Yams
import Foundation

/// A YAML node with its line and dotted key path, so every error can name `file:line` and the key.
import Foundation

package struct YAMLValue {
    package let node: Node
    package let key: String
    package let file: String
    package let environment: [String: String]
    /// Placeholder → original `${…}` text (see ``EnvironmentReferences``).
    package var references: [String: String] = [:]

    package init(node: Node, key: String, file: String, environment: [String: String], references: [String: String] = [:]) {
        self.node = node
        self.key = key
        self.file = file
        self.environment = environment
        self.references = references
    }

    package var line: Int { node.mark?.line ?? 1 }

    package func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, message: message)
    }

    package func child(_ node: Node, key: String) -> YAMLValue {
        YAMLValue(node: node, key: key, file: file, environment: environment, references: references)
    }

    /// The entries of a mapping; fails on any key not in `allowed`.
    package func mapping(allowed: [String]) throws -> [String: YAMLValue] {
        guard case .mapping(let mapping) = node else {
            throw error("'\(key)' must be a mapping")
        }
        var result: [String: YAMLValue] = [:]
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw ConfigError(file: file, line: keyNode.mark?.line ?? line, message: "keys of '\(key)' must be plain names")
            }
            let name = scalar.string
            let path = key.isEmpty ? name : "\(key).\(name)"
            guard allowed.contains(name) else {
                let hint = allowed.isEmpty ? "" : " (expected one of: \(allowed.joined(separator: ", ")))"
                throw ConfigError(file: file, line: keyNode.mark?.line ?? line, message: "unknown key '\(path)'\(hint)")
            }
            guard result[name] == nil else {
                throw ConfigError(file: file, line: keyNode.mark?.line ?? line, message: "duplicate key '\(path)'")
            }
            result[name] = child(valueNode, key: path)
        }
        return result
    }

    /// Mapping entries in file order (for user-named keys such as channel names).
    package func orderedMapping() throws -> [(String, YAMLValue)] {
        guard case .mapping(let mapping) = node else { throw error("'\(key)' must be a mapping") }
        var result: [(String, YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let scalar) = keyNode else { throw error("keys of '\(key)' must be plain names") }
            guard !result.contains(where: { $0.0 == scalar.string }) else {
                throw ConfigError(file: file, line: keyNode.mark?.line ?? line, message: "duplicate key '\(key).\(scalar.string)'")
            }
            result.append((scalar.string, child(valueNode, key: "\(key).\(scalar.string)")))
        }
        return result
    }

    package func number(range: ClosedRange<Double>) throws -> Double {
        let text = try string()
        guard let value = Double(text) else { throw error("'\(key)' must be a number, got '\(text)'") }
        guard range.contains(value) else { throw error("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(text)") }
        return value
    }

    package func sequence() throws -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error("'\(key)' must be a list") }
        return sequence.enumerated().map { child($1, key: "\(key)[\($0)]") }
    }

    /// The scalar text with `${NAME}` and `${NAME:-default}` replaced from the environment.
    package func string() throws -> String {
        guard case .scalar(let scalar) = node else { throw error("'\(key)' must be a single value") }
        return try interpolate(EnvironmentReferences.restore(scalar.string, references))
    }

    package func bool() throws -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let text: throw error("'\(key)' must be true or false, got '\(text)'")
        }
    }

    package func int(range: ClosedRange<Int>) throws -> Int {
        let text = try string()
        guard let value = Int(text) else { throw error("'\(key)' must be a whole number, got '\(text)'") }
        guard range.contains(value) else {
            throw error("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// A size in bytes: a number, or one with a unit (`512KiB`, `64MiB`, `1GiB`; `KB`, `MB`, `GB`
    /// are taken as the same powers of 1024), within `range`.
    package func byteCount(range: ClosedRange<Int>) throws -> Int {
        let text = try string().trimmingCharacters(in: .whitespaces)
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let shifts = ["": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20, "g": 30, "gb": 30, "gib": 30]
        guard let number = Int(digits), let shift = shifts[unit], number <= Int.max >> shift else {
            throw error("'\(key)' must be a size like 512KiB, 64MiB or 1GiB, got '\(text.prefix(40))'")
        }
        let bytes = number << shift
        guard range.contains(bytes) else {
            throw error("'\(key)' must be between \(range.lowerBound) and \(range.upperBound) bytes, got '\(text.prefix(40))'")
        }
        return bytes
    }

    package func duration(allowZero: Bool = false) throws -> Duration {
        let text = try string()
        guard let value = DurationParser.parse(text) else {
            throw error("'\(key)' must be a duration like 500ms, 2s or 5m, at most 3650d, got '\(text)'")
        }
        if !allowZero && value <= .zero { throw error("'\(key)' must be longer than 0s") }
        return value
    }

    package func hostPort(allowPortZero: Bool = false) throws -> HostPort {
        let text = try string()
        guard let value = HostPort(parsing: text, allowPortZero: allowPortZero) else {
            throw error("'\(key)' must be an address host:port with a port from \(allowPortZero ? 0 : 1) to 65535, got '\(text)'")
        }
        return value
    }

    private func interpolate(_ text: String) throws -> String {
        guard text.contains("${") else { return text }
        var output = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            output += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw error("'\(key)': unterminated '${' in value")
            }
            let expression = rest[start.upperBound..<end]
            let (name, fallback): (Substring, Substring?) = {
                if let range = expression.range(of: ":-") {
                    return (expression[..<range.lowerBound], expression[range.upperBound...])
                }
                return (expression, nil)
            }()
            if let value = environment[String(name)], !value.isEmpty {
                output += value
            } else if let fallback {
                output += fallback
            } else if environment[String(name)] != nil {
                throw error("'\(key)': environment variable \(name) is empty (write ${\(name):-} to allow that)")
            } else {
                throw error("'\(key)': environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: end)...]
        }
        return output + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(needle) {
                return index..<self.index(index, offsetBy: needle.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}

/// Replaces `${…}` references with YAML-safe placeholders before parsing, and back after.
package enum EnvironmentReferences {
    package static func shield(_ text: String) -> (String, [String: String]) {
        guard text.contains("${") else { return (text, [:]) }
        var output = ""
        var references: [String: String] = [:]
        var rest = Substring(text)
        while let start = rest.range(of: "${"), let end = rest[start.upperBound...].firstIndex(of: "}"),
              !rest[start.upperBound..<end].contains("\n") {
            let placeholder = "__tugboat_env_\(references.count)__"
            references[placeholder] = String(rest[start.lowerBound...end])
            output += rest[..<start.lowerBound] + placeholder
            rest = rest[rest.index(after: end)...]
        }
        return (output + rest, references)
    }

    package static func restore(_ text: String, _ references: [String: String]) -> String {
        guard !references.isEmpty, text.contains("__tugboat_env_") else { return text }
        var result = text
        for (placeholder, original) in references { result = result.replacingOccurrences(of: placeholder, with: original) }
        return result
    }
}
