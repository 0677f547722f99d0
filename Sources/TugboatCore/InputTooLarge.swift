/// Input refused for its size (an HTTP API answers it with 413); the text says which limit, and
/// the config key that sets it.
public struct InputTooLarge: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
