import Foundation
import Testing
@testable import FlameGraph

@Suite struct FoldedReaderTests {
    @Test func sumsRepeatedStacksAndKeepsFractions() throws {
        let stacks = try FoldedStacks.parse("a;b 1\na;c 2.5\na;b 3\n")
        #expect(stacks.count == 2)
        #expect(stacks.total == 6.5)
        #expect(String(decoding: stacks.foldedBytes(), as: UTF8.self) == "a;b 4\na;c 2.5\n")
    }

    @Test func frameNamesMayContainSpaces() throws {
        let stacks = try FoldedStacks.parse("main;do some work;std::map<int, int>::find 7\n")
        #expect(stacks.stacks == [Array("main;do some work;std::map<int, int>::find".utf8)])
        #expect(stacks.counts == [7])
    }

    @Test func crlfLinesAreReadAndInvalidLinesCounted() throws {
        let reader = try FoldedReader.read(.file(Fixture.path("folded/crlf.folded")))
        #expect(reader.invalidLines == 2)  // "this line has no count" and the empty line
        #expect(reader.stacks.stacks.map { String(decoding: $0, as: UTF8.self) } == ["main;run", "main;run;child", "main;idle"])
        #expect(reader.stacks.total == 18)
    }

    @Test(arguments: ["no count here", "a;b", "a;b x12", "a;b 1.2.3", "a;b -4", "a;b 1e5", ""])
    func invalidLines(_ line: String) throws {
        let reader = try FoldedReader.read(.bytes(Array(line.utf8)))
        #expect(reader.invalidLines == (line.isEmpty ? 0 : 1))
        #expect(reader.stacks.count == 0)
    }

    @Test func twoCountsMakeADifferentialLine() throws {
        let stacks = try FoldedStacks.parse("a;b 3 5\na;c 4\n")
        #expect(stacks.isDifferential)
        #expect(stacks.baselines == [3, nil])
        #expect(stacks.counts == [5, 4])
    }

    @Test func trailingNumberNeedsWhitespaceBeforeIt() throws {
        // "a;b12" is not "a;b 12": the count must follow white space.
        let reader = try FoldedReader.read(.bytes(Array("a;b12\n".utf8)))
        #expect(reader.invalidLines == 1)
    }

    @Test func flameChartModeMergesOnlyAdjacentStacks() throws {
        let stacks = try FoldedStacks.parse("a;b 1\na;b 2\na;c 1\na;b 4\n", merging: false)
        #expect(stacks.counts == [3, 1, 4])
    }

    @Test func foldedOutputIsSortedBytewise() throws {
        let stacks = try FoldedStacks.parse("b 1\na;b 1\na 1\nB 1\n")
        #expect(String(decoding: stacks.foldedBytes(), as: UTF8.self) == "B 1\na 1\na;b 1\nb 1\n")
    }

    @Test func readsLongInputsInChunksWithoutLosingLines() throws {
        // More than one read chunk, with a line straddling the chunk boundary.
        var text = ""
        for i in 0..<40_000 { text += "root;function_number_\(i % 1000);leaf \(i % 7 + 1)\n" }
        let path = FileManagerShim.temporaryFile(contents: text)
        let reader = try FoldedReader.read(.file(path))
        #expect(reader.invalidLines == 0)
        #expect(reader.stacks.count == 1000)
        let expected = (0..<40_000).reduce(0.0) { $0 + Double($1 % 7 + 1) }
        #expect(reader.stacks.total == expected)
    }

    @Test func unmergedStacksReadFromAFileStayInItAndMatchTheCopiedOnes() throws {
        // flamegraph reads a file unmerged, leaving the stacks in its mapping; they must be
        // the stacks read from the same bytes in memory, before and after the file is gone.
        let text = "main;run 3\r\nmain;run 2\nmain;io;write 1 4\nnot a line\nmain;run 1\n\nlast;one 7"
        let path = FileManagerShim.temporaryFile(contents: text)
        let fromFile = try FoldedReader.read(.file(path), merging: false)
        let inMemory = try FoldedReader.read(.bytes(Array(text.utf8)), merging: false)
        try FileManager.default.removeItem(atPath: path)
        #expect(fromFile.invalidLines == inMemory.invalidLines)
        #expect(fromFile.stacks.stacks == inMemory.stacks.stacks)
        #expect(fromFile.stacks.counts == [5, 4, 1, 7])
        #expect(fromFile.stacks.baselines == inMemory.stacks.baselines)
        #expect(fromFile.stacks.foldedBytes() == inMemory.stacks.foldedBytes())
        #expect(FlameGraphRenderer().render(fromFile.stacks) == FlameGraphRenderer().render(inMemory.stacks))
    }

    @Test func addingAStackFromElsewhereToStacksKeptInAFileCopiesThem() throws {
        let path = FileManagerShim.temporaryFile(contents: "a;b 1\na;c 2\n")
        var stacks = try FoldedReader.read(.file(path), merging: false).stacks
        try FileManager.default.removeItem(atPath: path)
        stacks.add(Array("a;d".utf8), count: 3)
        stacks.add(Array("a;d".utf8), count: 1)  // adjacent: merged
        #expect(stacks.stacks.map { String(decoding: $0, as: UTF8.self) } == ["a;b", "a;c", "a;d"])
        #expect(stacks.counts == [1, 2, 4])
        var merged = FoldedStacks()
        merged.merge(stacks)
        #expect(String(decoding: merged.foldedBytes(), as: UTF8.self) == "a;b 1\na;c 2\na;d 4\n")
    }
}
