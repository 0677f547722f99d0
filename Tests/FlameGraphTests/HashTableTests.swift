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

    @Test func aLineFingerprintedWhileFindingItsEndIsTheLinesFingerprint() {
        // Every length around the eight-byte words, a newline at each place, and lines that
        // end at the end of the buffer without one.
        for length in 0..<40 {
            let line = (0..<length).map { UInt8(0x61 + $0 % 26) }
            for seed: UInt64 in [0, 1] {
                let expected = line.withUnsafeBufferPointer { FingerprintTable.fingerprint($0, seed: seed) }
                for bytes in [line + [0x0A] + Array("\tnext line".utf8), line] {
                    let found = bytes.withUnsafeBufferPointer {
                        FingerprintTable.fingerprintLine($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, from: 0, limit: $0.count, seed: seed)
                    }
                    #expect(found.end == length)
                    #expect(found.fingerprint == expected, "length \(length)")
                }
                // From the middle of a buffer.
                let inside = Array("xyz".utf8) + line + [0x0A]
                let found = inside.withUnsafeBufferPointer { FingerprintTable.fingerprintLine($0.baseAddress!, from: 3, limit: $0.count, seed: seed) }
                #expect(found.end == 3 + length && found.fingerprint == expected)
            }
        }
    }

    @Test func stackTrieWritesEachSampledPathOnceWithItsSummedCount() {
        var trie = StackTrie(capacity: 2)
        let groups = ["main", "run;inlined", "leaf", "other"].map { name in Array(name.utf8).withUnsafeBufferPointer { trie.group($0) } }
        let app = trie.root(Array("app".utf8))
        let run = trie.child(trie.child(app, group: groups[0]), group: groups[1])
        trie.add(trie.child(run, group: groups[2]), count: 2)
        trie.add(trie.child(run, group: groups[3]), count: 1)
        trie.add(trie.child(run, group: groups[2]), count: 5)
        trie.add(trie.root(Array("bb".utf8)), count: 4)
        var stacks = FoldedStacks()
        trie.settle(into: &stacks)
        #expect(String(decoding: stacks.foldedBytes(sorted: false), as: UTF8.self) == "app;main;run;inlined;leaf 7\napp;main;run;inlined;other 1\nbb 4\n")
        #expect(trie.isEmpty)
        var again = FoldedStacks()
        trie.settle(into: &again)
        #expect(again.count == 0)
    }
}
