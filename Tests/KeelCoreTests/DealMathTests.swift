import Foundation
import KeelCore
import XCTest

/// Unit tests of the exact arithmetic behind deals: line totals (api.md §7 "Money rounding"), default stage probabilities
/// (§7 "Pipelines and deals"), probabilities in basis points and scaled decimals.
final class DealMathTests: XCTestCase {

    // MARK: LineItem.total — quantity × unit_price × (100 − discount) / 100, half-even to the minor unit

    func testLineTotalWithoutDiscountIsExact() {
        // quantity is in ten-thousandths, unit price in minor units, discount in hundredths of a percent.
        XCTAssertEqual(LineItem.total(quantity: 10_000, unitPrice: 1999, discount: 0), 1999)
        XCTAssertEqual(LineItem.total(quantity: 30_000, unitPrice: 1999, discount: 0), 5997)
        XCTAssertEqual(LineItem.total(quantity: 0, unitPrice: 1999, discount: 0), 0)
        XCTAssertEqual(LineItem.total(quantity: 10_000, unitPrice: 0, discount: 5000), 0)
        XCTAssertEqual(LineItem.total(quantity: 10_000, unitPrice: 1999, discount: 10_000), 0, "100 % discount")
    }

    func testLineTotalWithDiscount() {
        // 3 × 19.99 × 0.9 = 53.973 → 53.97
        XCTAssertEqual(LineItem.total(quantity: 30_000, unitPrice: 1999, discount: 1000), 5397)
        // 1 × 100.00 × 0.875 = 87.50
        XCTAssertEqual(LineItem.total(quantity: 10_000, unitPrice: 10_000, discount: 1250), 8750)
    }

    func testLineTotalRoundsHalfToEven() {
        // 0.5 × 0.01 = 0.005 → 0.00 (0 is even)
        XCTAssertEqual(LineItem.total(quantity: 5000, unitPrice: 1, discount: 0), 0)
        // 1.5 × 0.01 = 0.015 → 0.02 (2 is even)
        XCTAssertEqual(LineItem.total(quantity: 15_000, unitPrice: 1, discount: 0), 2)
        // 2.5 × 0.01 = 0.025 → 0.02
        XCTAssertEqual(LineItem.total(quantity: 25_000, unitPrice: 1, discount: 0), 2)
        // 3.5 × 0.01 = 0.035 → 0.04
        XCTAssertEqual(LineItem.total(quantity: 35_000, unitPrice: 1, discount: 0), 4)
        // 1 × 0.25 × 0.5 = 0.125 → 0.12 ; 1 × 0.75 × 0.5 = 0.375 → 0.38
        XCTAssertEqual(LineItem.total(quantity: 10_000, unitPrice: 25, discount: 5000), 12)
        XCTAssertEqual(LineItem.total(quantity: 10_000, unitPrice: 75, discount: 5000), 38)
        // 0.0001 × 50.00 = 0.005 → 0.00 ; 0.0003 × 50.00 = 0.015 → 0.02
        XCTAssertEqual(LineItem.total(quantity: 1, unitPrice: 5000, discount: 0), 0)
        XCTAssertEqual(LineItem.total(quantity: 3, unitPrice: 5000, discount: 0), 2)
        // Not a tie: 0.0051 × 1.00 = 0.0051 → 0.01 ; 0.0049 → 0.00
        XCTAssertEqual(LineItem.total(quantity: 51, unitPrice: 100, discount: 0), 1)
        XCTAssertEqual(LineItem.total(quantity: 49, unitPrice: 100, discount: 0), 0)
    }

    func testLineTotalIsExactForLargeValuesWhereDoublesWouldDrift() {
        // 9,999,999.9999 × 99,999,999.99 would lose cents in binary floating point; the result must be exact.
        let quantity: Int64 = 99_999_999_999 // 9,999,999.9999
        let unit: Int64 = 9_999_999_999       // 99,999,999.99
        let expected = (Decimal(quantity) * Decimal(unit) / Decimal(10_000))
        var e = expected
        var rounded = Decimal()
        NSDecimalRound(&rounded, &e, 0, .bankers)
        XCTAssertEqual(LineItem.total(quantity: quantity, unitPrice: unit, discount: 0), Int64(NSDecimalNumber(decimal: rounded).stringValue))
        // 0.1 × 0.3 style sums: 3 × 0.10 = 0.30 exactly.
        XCTAssertEqual(LineItem.total(quantity: 30_000, unitPrice: 10, discount: 0), 30)
    }

    func testLineTotalsSumToTheDealValue() {
        // The deal value is the sum of the rounded totals (not the rounded sum).
        let totals = [LineItem.total(quantity: 5000, unitPrice: 1, discount: 0),   // 0.005 → 0.00
                      LineItem.total(quantity: 5000, unitPrice: 1, discount: 0)]   // 0.005 → 0.00
        XCTAssertEqual(totals.reduce(0, +), 0)
    }

    // MARK: StageDefaults

    func testDefaultProbabilityOfOpenStagesIsIOverNPlusOne() {
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 1, openCount: 4), 2000)
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 2, openCount: 4), 4000)
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 4, openCount: 4), 8000)
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 1, openCount: 1), 5000)
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 1, openCount: 2), 3333)
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 2, openCount: 2), 6667)
        XCTAssertEqual(StageDefaults.probability(type: .open, openIndex: 5, openCount: 5), 8333)
        XCTAssertEqual(StageDefaults.probability(type: .won, openIndex: 3, openCount: 4), 10_000)
        XCTAssertEqual(StageDefaults.probability(type: .lost, openIndex: 3, openCount: 4), 0)
    }

    func testDefaultForecastCategories() {
        XCTAssertEqual(StageDefaults.forecast(for: .won, openIndex: 1, openCount: 4), .closed)
        XCTAssertEqual(StageDefaults.forecast(for: .lost, openIndex: 1, openCount: 4), .omitted)
        XCTAssertEqual(StageDefaults.forecast(for: .open, openIndex: 1, openCount: 4), .pipeline)
        XCTAssertEqual(StageDefaults.forecast(for: .open, openIndex: 3, openCount: 4), .bestCase)
        XCTAssertEqual(StageDefaults.forecast(for: .open, openIndex: 4, openCount: 4), .commit)
    }

    func testDefaultStagesOfANewPipeline() {
        let ws = WorkspaceID.generate(), pipe = PipelineID.generate()
        let stages = StageDefaults.defaultStages(workspaceID: ws, pipelineID: pipe, at: Date())
        XCTAssertEqual(stages.map(\.name), ["Lead In", "Qualified", "Proposal", "Negotiation", "Won", "Lost"])
        XCTAssertEqual(stages.map(\.type), [.open, .open, .open, .open, .won, .lost])
        XCTAssertEqual(stages.map(\.probability), [2000, 4000, 6000, 8000, 10_000, 0])
        XCTAssertEqual(stages.map(\.position), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(stages.map(\.forecastCategory), [.pipeline, .pipeline, .bestCase, .commit, .closed, .omitted])
        XCTAssertTrue(stages.allSatisfy { $0.probabilityIsDefault && $0.pipelineID == pipe && $0.workspaceID == ws })
        XCTAssertEqual(Set(stages.map(\.id)).count, 6, "ids are distinct")
        XCTAssertEqual(stages.map(\.id), stages.map(\.id).sorted(), "ids sort in stage order")
    }

    static func stage(_ name: String, _ type: StageType, probability: Int64 = 0, isDefault: Bool = true, position: Int = 99) -> Stage {
        Stage(id: .generate(), workspaceID: WorkspaceID(trusted: "wsp_x"), pipelineID: PipelineID(trusted: "pipe_x"), name: name, position: position,
              type: type, probability: probability, probabilityIsDefault: isDefault, forecastCategory: .pipeline, color: nil, rotDays: nil,
              rules: StageRules(), createdAt: Date(), updatedAt: Date(), version: 1)
    }

    func testRenumberSetsPositionsAndRecomputesDefaultProbabilities() {
        let input = [Self.stage("A", .open), Self.stage("Won", .won), Self.stage("B", .open), Self.stage("Lost", .lost), Self.stage("C", .open)]
        let out = StageDefaults.renumber(input)
        XCTAssertEqual(out.map(\.name), ["A", "Won", "B", "Lost", "C"], "order is kept")
        XCTAssertEqual(out.map(\.position), [0, 1, 2, 3, 4])
        // Three open stages: 1/4, 2/4, 3/4, counted in order among the open ones only.
        XCTAssertEqual(out.map(\.probability), [2500, 10_000, 5000, 0, 7500])
    }

    func testRenumberKeepsOverriddenProbabilities() {
        let input = [Self.stage("A", .open), Self.stage("B", .open, probability: 1234, isDefault: false), Self.stage("C", .open),
                     Self.stage("Won", .won, probability: 9000, isDefault: false), Self.stage("Lost", .lost)]
        let out = StageDefaults.renumber(input)
        XCTAssertEqual(out.map(\.probability), [2500, 1234, 7500, 9000, 0])
        XCTAssertEqual(out.map(\.probabilityIsDefault), [true, false, true, false, true])
    }

    func testRenumberOfEmptyAndSingleStage() {
        XCTAssertEqual(StageDefaults.renumber([]).count, 0)
        XCTAssertEqual(StageDefaults.renumber([Self.stage("Only", .open)]).first?.probability, 5000)
    }

    // MARK: Probability (0–1, at most 4 decimals, in basis points)

    func testProbabilityBasisPoints() {
        let cases: [(String, Int64?)] = [
            ("0", 0), ("1", 10_000), ("0.5", 5000), ("0.25", 2500), ("0.1234", 1234), ("1.0", 10_000), ("0.0001", 1),
            ("1e-1", 1000),
            ("-0.1", nil), ("1.0001", nil), ("2", nil), ("0.12345", nil), ("abc", nil), ("", nil),
        ]
        for (text, expected) in cases { XCTAssertEqual(Probability.basisPoints(text), expected, text) }
    }

    func testProbabilityFormat() {
        let cases: [(Int64, String)] = [(0, "0"), (10_000, "1"), (5000, "0.5"), (2000, "0.2"), (1234, "0.1234"), (1, "0.0001"), (3333, "0.3333")]
        for (bp, expected) in cases { XCTAssertEqual(Probability.format(bp), expected, "\(bp)") }
        for bp: Int64 in [0, 1, 99, 2500, 6667, 10_000] {
            XCTAssertEqual(Probability.basisPoints(Probability.format(bp)), bp, "round trip of \(bp)")
        }
    }

    // MARK: Decimals (scaled integers for quantities and discounts)

    func testDecimalsScaled() {
        let cases: [(String, Int, Int64?)] = [
            ("1", 4, 10_000), ("1.5", 4, 15_000), ("0.0001", 4, 1), ("2.25", 2, 225), ("100", 2, 10_000), ("0", 2, 0),
            ("-3", 2, -300), ("12.3456", 4, 123_456),
            ("0.00001", 4, nil), ("1.234", 2, nil), ("abc", 2, nil), ("", 4, nil), ("1e30", 4, nil),
        ]
        for (text, scale, expected) in cases { XCTAssertEqual(Decimals.scaled(text, scale: scale), expected, "\(text) @\(scale)") }
    }

    func testDecimalsFormat() {
        let cases: [(Int64, Int, String)] = [
            (10_000, 4, "1"), (15_000, 4, "1.5"), (1, 4, "0.0001"), (225, 2, "2.25"), (10_000, 2, "100"), (0, 2, "0"),
            (-300, 2, "-3"), (-5, 2, "-0.05"), (123_456, 4, "12.3456"), (42, 0, "42"),
        ]
        for (v, scale, expected) in cases { XCTAssertEqual(Decimals.format(v, scale: scale), expected, "\(v) @\(scale)") }
        for v: Int64 in [0, 1, 7, 100, 12_345, -12_345] {
            XCTAssertEqual(Decimals.scaled(Decimals.format(v, scale: 4), scale: 4), v, "round trip of \(v)")
        }
    }

    // MARK: Money (used for deal values and line prices)

    func testMoneyRejectsExtraDecimalsAndFormatsMinorUnits() {
        XCTAssertEqual(Money.minorUnits("10.5", currency: "USD"), 1050)
        XCTAssertNil(Money.minorUnits("10.001", currency: "USD"))
        XCTAssertEqual(Money.minorUnits("10", currency: "JPY"), 10)
        XCTAssertNil(Money.minorUnits("10.5", currency: "JPY"))
        XCTAssertEqual(Money.format(5397, currency: "USD"), "53.97")
        XCTAssertEqual(Money.format(5000, currency: "USD"), "50")
        XCTAssertEqual(Money.format(12, currency: "JPY"), "12")
    }
}
