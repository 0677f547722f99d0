/// Input refused for its size (an HTTP API answers it with 413); the text says which limit, and
/// the config key that sets it.
package struct InputTooLarge: Error, Sendable, Equatable, CustomStringConvertible {
    package let description: String

    package init(_ description: String) { self.description = description }
}
