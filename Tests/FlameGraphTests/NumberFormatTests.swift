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
    }
}
