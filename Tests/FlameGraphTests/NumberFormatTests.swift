import Foundation
import Testing
@testable import FlameGraph

@Suite struct NumberFormatTests {
    @Test(arguments: [
        (0.05, 1, "0.1"), (0.15, 1, "0.1"), (0.25, 1, "0.2"), (0.35, 1, "0.3"), (2.5, 0, "2"), (3.5, 0, "4"),
        (123.456, 2, "123.46"), (-0.001, 2, "-0.00"), (1180, 1, "1180.0"), (10.049999, 1, "10.0"),
    ])
    func fixedMatchesPrintf(value: Double, digits: Int, expected: String) {
        #expect(NumberFormat.fixed(value, digits: digits) == expected)
    }

    @Test func perlNumbers() {
        #expect(NumberFormat.perl(12) == "12")
        #expect(NumberFormat.perl(0.1 + 0.2) == "0.3")
        #expect(NumberFormat.perl(2.5) == "2.5")
        #expect(NumberFormat.perl(1e20) == "1e+20")
        #expect(NumberFormat.perl(-0.5) == "-0.5")
    }

    /// The fast paths (integers, halves, fixed digits away from a tie) print what printf prints.
    @Test func fastPathsMatchPrintf() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let half = Double(Int.random(in: -2_000_000...2_000_000, using: &generator)) / 2
            #expect(NumberFormat.perl(half) == String(format: "%.15g", half))
            let x = Double.random(in: 0...100_000, using: &generator)
            #expect(NumberFormat.fixed(x, digits: 1) == String(format: "%.1f", x))
            #expect(NumberFormat.fixed(x, digits: 2) == String(format: "%.2f", x))
            if let tenths = NumberFormat.roundedFixed(x, digits: 1) {
                #expect(Double(tenths) / 10 == Double(String(format: "%.1f", x)))
            }
        }
    }

    @Test(arguments: [
        (0.0, "0"), (7, "7"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567"), (-1_234_567, "-1,234,567"),
        (12_345.6, "12,346"), (100_000, "100,000"),
    ])
    func countsHaveThousandsSeparators(value: Double, expected: String) {
        var writer = ByteWriter(capacity: 16)
        writer.raw("x")
        writer.count(value)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "x" + expected)
    }
}
