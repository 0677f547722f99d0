import Testing

/// Expects `parse` to refuse its input with an error whose text begins with `expected`
/// (`FILE:LINE: message naming the key`).
package func expectConfigError(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation, _ parse: () throws -> Any) {
    do {
        _ = try parse()
        Issue.record("no error; expected \(expected)", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".hasPrefix(expected), "got: \(error)", sourceLocation: sourceLocation)
    }
}
