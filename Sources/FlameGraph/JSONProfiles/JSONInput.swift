import Foundation

/// Helpers for the JSON profile formats (parsed with Foundation's JSONSerialization).
enum JSONInput {
    static func object(_ source: ByteSource, format: String) throws -> [String: Any] {
        let data = Data(try source.readAll())
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw InputError("\(format): not valid JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else { throw InputError("\(format): expected a JSON object") }
        return object
    }

    static func double(_ value: Any?) -> Double? {
        if let n = value as? NSNumber { return n.doubleValue }
        if let s = value as? String { return Double(s) }
        return nil
    }

    static func int64(_ value: Any?) -> Int64? {
        if let n = value as? NSNumber { return n.int64Value }
        if let s = value as? String { return Int64(s) }
        return nil
    }

    /// A frame name made safe for the folded format (no `;`, no line breaks).
    static func frameName(_ name: String) -> [UInt8] {
        PprofCollapser.sanitize(name)
    }
}
