/// Turns the runtime's full demangled form into the short one a person reads in a flame graph,
/// the way Xcode and Instruments show Swift frames:
/// - `function signature specialization <…> of`, `generic specialization <…> of`, `merged`,
///   `static`, `(extension in M):` are dropped;
/// - the module is dropped from the function's path (`tugboat.DemoAppHandler.burnCPU` →
///   `DemoAppHandler.burnCPU`);
/// - parameters become their labels (`(milliseconds: Swift.Int)` → `(milliseconds:)`, an
///   unlabelled one `_:`), and the result type, `throws` and `async` go;
/// - a closure keeps its number and what it is in: `closure #1 in SelectableEventLoop.run()`;
/// - accessors and variables lose their type (`ProxyHandler.stream.getter`).
/// Pure; text that does not parse is returned as it came.
enum SwiftNameSimplifier {
    static func simplify(_ full: String) -> String {
        var text = Substring(full)
        stripPrefixes(&text)
        // A closure: "closure #1 (…) -> () in REST" → "closure #1 in " + simplify(REST).
        for kind in ["implicit closure #", "closure #"] where text.hasPrefix(kind) {
            guard let number = text.dropFirst(kind.count).split(separator: " ", maxSplits: 1).first,
                  let range = rangeOfTopLevel(" in ", in: text) else { return full }
            return "\(kind)\(number) in \(simplify(String(text[range.upperBound...])))"
        }
        return simplifyFunction(text) ?? full
    }

    private static let prefixes = ["merged ", "static ", "specialized ", "@objc ", "partial apply for ", "dispatch thunk of "]

    private static func stripPrefixes(_ text: inout Substring) {
        var changed = true
        while changed {
            changed = false
            for prefix in prefixes where text.hasPrefix(prefix) {
                text = text.dropFirst(prefix.count)
                changed = true
            }
            for kind in ["function signature specialization <", "generic specialization <", "generic partial specialization <"]
            where text.hasPrefix(kind) {
                // "… specialization <…> of REST": skip the balanced <…> and " of ".
                guard let close = matching(text, from: text.index(text.startIndex, offsetBy: kind.count - 1)),
                      text[close...].hasPrefix("> of ") else { return }
                text = text[text.index(close, offsetBy: 5)...]
                changed = true
            }
            if text.hasPrefix("(extension in "), let end = text.firstIndex(of: ":") {
                text = text[text.index(after: end)...]
                changed = true
            }
        }
    }

    /// `Module.Type.name(params) throws -> Result` → `Type.name(labels:)`; nil when it does not parse.
    private static func simplifyFunction(_ text: Substring) -> String? {
        var path = Substring()
        var rest = Substring()
        var depth = 0
        var split: Substring.Index?
        for index in text.indices {
            if depth == 0 && (text[index] == "(" || text[index] == " ") {
                split = index
                break
            }
            depth += delta(text, index)
        }
        if let split {
            path = text[..<split]
            rest = text[split...]
        } else {
            path = text
        }
        var out = dropModule(dropExtensions(path))
        if rest.first == "(" {
            guard let close = matching(rest, from: rest.startIndex) else { return nil }
            let inner = rest[rest.index(after: rest.startIndex)..<close]
            out += "(" + labels(inner) + ")"
        }
        // " : Type" of a variable or accessor, " -> Result", " throws", " async": all dropped.
        return out
    }

    /// "(extension in M):" can also sit inside a path.
    private static func dropExtensions(_ path: Substring) -> Substring {
        guard let range = path.range(of: "(extension in "), let colon = path[range.upperBound...].firstIndex(of: ":") else { return path }
        return path[..<range.lowerBound] + path[path.index(after: colon)...]
    }

    /// `tugboat.DemoAppHandler.burnCPU` → `DemoAppHandler.burnCPU`; generic arguments lose their
    /// modules too. A single component is kept.
    private static func dropModule(_ path: Substring) -> String {
        let components = topLevelSplit(path, on: ".")
        guard components.count > 1 else { return String(path) }
        return components.dropFirst().map { component in
            guard let open = component.firstIndex(of: "<"), component.last == ">" else { return String(component) }
            let arguments = topLevelSplit(component[component.index(after: open)..<component.index(before: component.endIndex)], on: ",")
            return component[..<open] + "<" + arguments.map { dropModule(Substring($0.trimmingLeadingSpaces)) }.joined(separator: ", ") + ">"
        }.joined(separator: ".")
    }

    /// `milliseconds: Swift.Int, _: X, Y` → `milliseconds:_:_:`.
    private static func labels(_ parameters: Substring) -> String {
        guard !parameters.isEmpty else { return "" }
        return topLevelSplit(parameters, on: ",").map { parameter in
            let trimmed = parameter.trimmingLeadingSpaces
            if let colon = trimmed.firstIndex(of: ":"), trimmed[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                return trimmed[..<colon] + ":"
            }
            return "_:"
        }.joined()
    }

    private static func topLevelSplit(_ text: Substring, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for index in text.indices {
            depth += delta(text, index)
            if depth == 0 && text[index] == separator {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
        }
        parts.append(text[start...])
        return parts
    }

    /// The index of the bracket closing the one at `open` (`(`, `<` or `[`), nil if unbalanced.
    private static func matching(_ text: Substring, from open: Substring.Index) -> Substring.Index? {
        var depth = 0
        var index = open
        while index < text.endIndex {
            let change = delta(text, index)
            depth += change
            if change < 0 && depth == 0 { return index }
            index = text.index(after: index)
        }
        return nil
    }

    /// The first " in " outside brackets (a closure's signature has brackets of its own).
    private static func rangeOfTopLevel(_ needle: String, in text: Substring) -> Range<Substring.Index>? {
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            depth += delta(text, index)
            if depth == 0, text[index...].hasPrefix(needle) {
                return index..<text.index(index, offsetBy: needle.count)
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// +1 for an opening bracket, -1 for a closing one; the `>` of `->` is no bracket.
    private static func delta(_ text: Substring, _ index: Substring.Index) -> Int {
        switch text[index] {
        case "<", "(", "[": return 1
        case ")", "]": return -1
        case ">": return index > text.startIndex && text[text.index(before: index)] == "-" ? 0 : -1
        default: return 0
        }
    }
}

private extension Substring {
    var trimmingLeadingSpaces: Substring { drop { $0 == " " } }
}
