import Testing
@testable import FlameGraph

@Suite struct HashTableTests {
    @Test func byteTableGivesDenseIdsAndFindsKeysAfterGrowing() {
        var table = ByteTable(capacity: 2)
        let keys = (0..<5000).map { Array("frame;\($0 % 2500);x".utf8) }
        var ids: [Int] = []
        for key in keys {
            ids.append(key.withUnsafeBufferPointer { table.id(of: $0).id })
        }
        #expect(table.count == 2500)
        #expect(ids[0..<2500] == ArraySlice(0..<2500))
        #expect(ids[2500...] == ArraySlice(0..<2500))
        #expect(Array(table.key(7)) == Array("frame;7;x".utf8))
        #expect(Array("frame;7;x".utf8).withUnsafeBufferPointer { table.find($0) } == 7)
        #expect(Array("frame;7;y".utf8).withUnsafeBufferPointer { table.find($0) } == nil)
        #expect([UInt8]().withUnsafeBufferPointer { table.find($0) } == nil)
    }

    @Test func fingerprintsSeparateSimilarLinesAndSeeds() {
        var table = FingerprintTable(capacity: 2)
        var seen = Set<[UInt64]>()
        for i in 0..<20_000 {
            let line = Array("\t    \(String(i, radix: 16)) f+0x1 (/x)".utf8)
            let fp = line.withUnsafeBufferPointer { FingerprintTable.fingerprint($0) }
            seen.insert([fp.a, fp.b])
            table.insert(fp, value: UInt32(i))
        }
        #expect(seen.count == 20_000)
        #expect(table.count == 20_000)
        let probe = Array("\t    ff f+0x1 (/x)".utf8)
        #expect(probe.withUnsafeBufferPointer { table.find(FingerprintTable.fingerprint($0)) } == 255)
        #expect(probe.withUnsafeBufferPointer { table.find(FingerprintTable.fingerprint($0, seed: 1)) } == nil)
    }
}
