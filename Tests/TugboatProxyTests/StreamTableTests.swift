import Testing
@testable import TugboatProxy

@Suite("HTTP/2 streams by id (StreamTable)")
struct StreamTableTests {
    /// Applies the same random inserts, updates and removals to a table and to a Dictionary and
    /// checks after each that they hold the same.
    private func agreesWithDictionary(ids: [UInt32], operations: Int) {
        var generator = SystemRandomNumberGenerator()
        var table = StreamTable<Int>()
        var model: [UInt32: Int] = [:]
        for step in 0..<operations {
            let id = ids.randomElement(using: &generator)!
            switch Int.random(in: 0..<4, using: &generator) {
            case 0, 1:
                table[id] = step
                model[id] = step
            case 2:
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id), "step \(step): removing \(id)")
            default:
                #expect(table.update(id, { value -> Int in value += 1; return value }) == model[id].map { $0 + 1 })
                model[id]? += 1
            }
            guard table.count == model.count else {
                Issue.record("step \(step): count \(table.count), expected \(model.count)")
                return
            }
            for probe in ids where table[probe] != model[probe] {
                Issue.record("step \(step): id \(probe) holds \(String(describing: table[probe])), expected \(String(describing: model[probe]))")
                return
            }
        }
        #expect(Set(table.keys) == Set(model.keys))
        #expect(table.values.sorted() == model.values.sorted())
    }

    @Test("client ids in order, as a browser opens them: the same as a Dictionary through growth and removals")
    func sequentialIds() {
        agreesWithDictionary(ids: (0..<200).map { UInt32($0 * 2 + 1) }, operations: 20_000)
    }

    @Test("ids chosen to share a slot (strides of powers of two, the top of the range) still find their values")
    func collidingIds() {
        let strided = (0..<64).map { UInt32(1 + $0 << 20) }
        let wide = (0..<64).map { UInt32(Int32.max) - UInt32($0) * 2 }
        agreesWithDictionary(ids: strided + wide, operations: 20_000)
        agreesWithDictionary(ids: (0..<40).map { UInt32(1 + $0 * 64) }, operations: 20_000)
    }

    @Test("removing every value, one at a time or at once, leaves an empty table that works again")
    func emptiesAndRefills() {
        var table = StreamTable<String>()
        for id in stride(from: UInt32(1), through: 999, by: 2) { table[id] = "s\(id)" }
        #expect(table.count == 500)
        for id in stride(from: UInt32(1), through: 999, by: 4) { #expect(table.removeValue(forKey: id) == "s\(id)") }
        #expect(table.count == 250)
        #expect(table[3] == "s3" && table[5] == nil)
        table.removeAll()
        #expect(table.isEmpty && table.keys.isEmpty && table[3] == nil)
        table[1001] = "again"
        #expect(table[1001] == "again" && table.count == 1)
        #expect(table.removeValue(forKey: 7) == nil, "an id never there")
        #expect(table[0] == nil, "stream 0 is the connection, never a stream")
    }

    @Test("updateEach changes every value in place")
    func updateEach() {
        var table = StreamTable<Int>()
        for id in stride(from: UInt32(1), through: 99, by: 2) { table[id] = Int(id) }
        table.updateEach { $0 += 1000 }
        #expect(table[1] == 1001 && table[99] == 1099 && table.count == 50)
    }
}
