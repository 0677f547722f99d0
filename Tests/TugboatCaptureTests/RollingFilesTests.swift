import Foundation
import Testing
@testable import TugboatCapture

@Suite("rolling files")
struct RollingFilesTests {
    func file(_ name: String, _ seconds: Double) -> FinishedFile {
        FinishedFile(path: "/x/\(name)", name: name, finished: Date(timeIntervalSince1970: seconds))
    }

    @Test func theWindowIsCoveredInWholeFiles() {
        let files = [file("a", 100), file("b", 105), file("c", 110), file("d", 115), file("e", 117)]
        let chosen = RollingFiles.covering(files, end: Date(timeIntervalSince1970: 117), window: .seconds(15), slice: .seconds(5))
        // Files ending after 102: b (105, from 100), c, d and e; a ends before the window.
        #expect(chosen.map(\.file.name) == ["b", "c", "d", "e"])
        #expect(chosen.first?.start == Date(timeIntervalSince1970: 100))
        let first = RollingFiles.covering([file("only", 50)], end: Date(timeIntervalSince1970: 50), window: .seconds(15), slice: .seconds(5))
        #expect(first.first?.start == Date(timeIntervalSince1970: 45))
    }

    @Test func listingSkipsOtherFiles() throws {
        let temp = try TempDirectory()
        defer { temp.remove() }
        for name in ["perf.data", "perf.data.1", "perf.data.2", "record.log"] {
            #expect(FileManager.default.createFile(atPath: "\(temp.path)/\(name)", contents: Data()))
        }
        #expect(Set(RollingFiles.list(temp.path, prefix: "perf.data.").map(\.name)) == ["perf.data.1", "perf.data.2"])
    }
}
