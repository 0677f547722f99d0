/// The parts of a pprof `profile.proto` a flame graph needs.
struct PprofProfile {
    struct Location {
        var functionIDs: [UInt64] = []  // line[0] is the innermost (inlined) function
        var address: UInt64 = 0
    }

    var sampleTypes: [String] = []
    var defaultSampleType: String?
    var samples: [(locations: [UInt64], values: [Int64])] = []
    var locations: [UInt64: Location] = [:]
    var functionNames: [UInt64: String] = [:]

    /// Decodes an uncompressed profile.
    init(decoding bytes: UnsafeBufferPointer<UInt8>) throws {
        var strings: [String] = []
        var sampleTypeRefs: [UInt64] = []
        var functionRefs: [UInt64: UInt64] = [:]
        var defaultType: UInt64 = 0
        var reader = ProtobufReader(bytes)
        while !reader.isAtEnd {
            let (field, type) = try reader.nextField()
            switch (field, type) {
            case (1, .lengthDelimited):  // sample_type: ValueType { type = 1 }
                var m = ProtobufReader(bytes, range: try reader.lengthDelimited())
                var typeRef: UInt64 = 0
                while !m.isAtEnd {
                    let (f, t) = try m.nextField()
                    if f == 1, t == .varint { typeRef = try m.varint() } else { try m.skip(t) }
                }
                sampleTypeRefs.append(typeRef)
            case (2, .lengthDelimited):  // sample { location_id = 1, value = 2 }
                var m = ProtobufReader(bytes, range: try reader.lengthDelimited())
                var ids: [UInt64] = [], values: [UInt64] = []
                while !m.isAtEnd {
                    let (f, t) = try m.nextField()
                    switch f {
                    case 1: try m.integers(t, into: &ids)
                    case 2: try m.integers(t, into: &values)
                    default: try m.skip(t)
                    }
                }
                samples.append((ids, values.map { Int64(bitPattern: $0) }))
            case (4, .lengthDelimited):  // location { id = 1, address = 3, line = 4 }
                var m = ProtobufReader(bytes, range: try reader.lengthDelimited())
                var id: UInt64 = 0
                var location = Location()
                while !m.isAtEnd {
                    let (f, t) = try m.nextField()
                    switch (f, t) {
                    case (1, .varint): id = try m.varint()
                    case (3, .varint): location.address = try m.varint()
                    case (4, .lengthDelimited):  // line { function_id = 1 }
                        var l = ProtobufReader(bytes, range: try m.lengthDelimited())
                        var functionID: UInt64 = 0
                        while !l.isAtEnd {
                            let (lf, lt) = try l.nextField()
                            if lf == 1, lt == .varint { functionID = try l.varint() } else { try l.skip(lt) }
                        }
                        location.functionIDs.append(functionID)
                    default: try m.skip(t)
                    }
                }
                locations[id] = location
            case (5, .lengthDelimited):  // function { id = 1, name = 2 }
                var m = ProtobufReader(bytes, range: try reader.lengthDelimited())
                var id: UInt64 = 0, name: UInt64 = 0
                while !m.isAtEnd {
                    let (f, t) = try m.nextField()
                    switch (f, t) {
                    case (1, .varint): id = try m.varint()
                    case (2, .varint): name = try m.varint()
                    default: try m.skip(t)
                    }
                }
                functionRefs[id] = name
            case (6, .lengthDelimited):  // string_table
                strings.append(String(decoding: reader.slice(try reader.lengthDelimited()), as: UTF8.self))
            case (14, .varint):
                defaultType = try reader.varint()
            default:
                try reader.skip(type)
            }
        }
        func string(_ ref: UInt64) throws -> String {
            guard ref < strings.count else { throw PprofError("string index \(ref) out of range") }
            return strings[Int(ref)]
        }
        sampleTypes = try sampleTypeRefs.map(string)
        defaultSampleType = defaultType == 0 ? nil : try string(defaultType)
        for (id, ref) in functionRefs { functionNames[id] = try string(ref) }
    }

    /// The index of the sample value to use, as pprof chooses it: `requested` by name (an
    /// `inuse_` prefix is ignored) or index; by default the profile's default sample type,
    /// else the last one.
    func sampleIndex(_ requested: String?) throws -> Int {
        guard !sampleTypes.isEmpty else { throw PprofError("the profile has no sample types") }
        guard let requested, !requested.isEmpty else {
            if let defaultSampleType, let i = sampleTypes.firstIndex(of: defaultSampleType) { return i }
            return sampleTypes.count - 1
        }
        if let i = Int(requested) {
            guard sampleTypes.indices.contains(i) else { throw PprofError("sample index \(i) out of range") }
            return i
        }
        let legacy = requested.hasPrefix("inuse_") ? String(requested.dropFirst(6)) : requested
        if let i = sampleTypes.firstIndex(where: { $0 == requested || $0 == legacy }) { return i }
        throw PprofError("sample type \(requested) must be one of: \(sampleTypes.joined(separator: ", "))")
    }
}
