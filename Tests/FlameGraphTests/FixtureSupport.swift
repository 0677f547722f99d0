import Foundation
@testable import FlameGraph

/// Test fixtures live next to the tests (Tests/FlameGraphTests/Fixtures).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func text(_ name: String) throws -> String {
        String(decoding: try bytes(name), as: UTF8.self)
    }
}

extension FoldedStacks {
    /// Folded stacks from text lines.
    static func parse(_ text: String, merging: Bool = true) throws -> FoldedStacks {
        try FoldedReader.read(.bytes(Array(text.utf8)), merging: merging).stacks
    }
}

/// A frame as drawn in an SVG: title, x, y, width, fill.
struct DrawnFrame: Equatable {
    var title: String
    var x: Double
    var y: Double
    var width: Double
    var fill: String
    var label: String
}

/// Reads back the frames of a rendered SVG.
func drawnFrames(_ svg: [UInt8]) -> [DrawnFrame] {
    let text = String(decoding: svg, as: UTF8.self)
    guard let start = text.range(of: "<g id=\"frames\">") else { return [] }
    var frames: [DrawnFrame] = []
    let pieces: [String] = String(text[start.upperBound...]).components(separatedBy: "<g><title>")
    for piece in pieces[1...] {
        let line = Substring("<title>" + piece)
        func between(_ a: String, _ b: String, from: Substring) -> Substring? {
            guard let r1 = from.range(of: a) else { return nil }
            guard let r2 = from[r1.upperBound...].range(of: b) else { return nil }
            return from[r1.upperBound..<r2.lowerBound]
        }
        let title = between("<title>", "</title>", from: line) ?? ""
        let rect = between("<rect ", "/>", from: line) ?? ""
        let label = between("\">", "</text>", from: line[(line.range(of: "<text ")?.lowerBound ?? line.startIndex)...]) ?? ""
        frames.append(DrawnFrame(
            title: String(title),
            x: Double(between("x=\"", "\"", from: rect) ?? "") ?? -1,
            y: Double(between("y=\"", "\"", from: rect) ?? "") ?? -1,
            width: Double(between("width=\"", "\"", from: rect) ?? "") ?? -1,
            fill: String(between("fill=\"", "\"", from: rect) ?? ""),
            label: String(label)))
    }
    return frames
}
