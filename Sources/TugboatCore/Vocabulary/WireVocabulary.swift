/// A state or kind that travels as text — in the admin API's JSON, the SQLite database and Redis —
/// always as its raw value. Reading a word it does not know is an error naming the word and the
/// words it knows (``UnknownWord``), never a crash or a silent default.
package protocol WireVocabulary: RawRepresentable, CaseIterable, Codable, Sendable, Hashable, CustomStringConvertible
where RawValue == String {
    /// What the words name, for error messages ("incident state").
    static var vocabularyName: String { get }
}

extension WireVocabulary {
    /// The wire text.
    package var description: String { rawValue }

    /// The value `text` names, or ``UnknownWord``.
    package init(wire text: String) throws(UnknownWord) {
        guard let value = Self(rawValue: text) else {
            throw UnknownWord(vocabulary: Self.vocabularyName, word: text, known: Self.allCases.map(\.rawValue))
        }
        self = value
    }

    /// Decodes the raw value (each vocabulary's `init(from:)`; encoding is the raw value's own), refusing an unknown one with ``UnknownWord``'s text.
    package static func decode(from decoder: any Decoder) throws -> Self {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            return try Self(wire: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }
}

/// A word read from the database, Redis or a request that is not one of its vocabulary's.
package struct UnknownWord: Error, Sendable, Equatable, CustomStringConvertible {
    package var vocabulary: String
    package var word: String
    package var known: [String]

    package init(vocabulary: String, word: String, known: [String]) {
        self.vocabulary = vocabulary
        self.word = word
        self.known = known
    }

    package var description: String {
        "unknown \(vocabulary) \"\(word.prefix(64))\" (expected one of: \(known.joined(separator: ", ")))"
    }
}
