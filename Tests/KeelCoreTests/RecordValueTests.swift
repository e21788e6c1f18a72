import Foundation
import KeelCore
import XCTest

final class RecordValueTests: XCTestCase {

    // MARK: Phone.normalize (api.md §7 "Phones")

    func testPhoneWithPlusOrDoubleZeroBecomesE164() {
        let cases: [(String, String)] = [
            ("+44 20 7946 0958", "+442079460958"),
            ("+1 (415) 555-0100", "+14155550100"),
            ("+1.415.555.0100", "+14155550100"),
            ("  +33 1 23 45 67 89  ", "+33123456789"),
            ("0044 20 7946 0958", "+442079460958"),
            ("0044-(20)-7946-0958", "+442079460958"),
            ("+12345678", "+12345678"),                 // 8 digits: the shortest E.164 accepted
            ("+123456789012345", "+123456789012345"),   // 15 digits: the longest
            ("\t+49 30 1234567\n", "+49301234567"),
        ]
        for (raw, expected) in cases { XCTAssertEqual(Phone.normalize(raw), expected, raw) }
    }

    func testOtherPhonesAreKeptTrimmedAsGiven() {
        let cases: [(String, String)] = [
            ("555-0100", "555-0100"),
            ("  (020) 7946 0958 ", "(020) 7946 0958"),
            ("+1234567", "+1234567"),                   // 7 digits after +: not E.164, kept
            ("00 12", "00 12"),                         // 00 with too few digits
            ("1-800-FLOWERS", "1-800-FLOWERS"),
            ("+44 20 7946 0958 ext. 12", "+44 20 7946 0958 ext. 12"),
            ("12345", "12345"),
        ]
        for (raw, expected) in cases { XCTAssertEqual(Phone.normalize(raw), expected, raw) }
    }

    func testImpossiblePhonesAreRejected() {
        for raw in ["", "   ", "abc", "---", "()", "+", "phone: n/a",
                    "+1234567890123456",        // 16 digits after +
                    "1234567890123456",         // 16 digits
                    "00 1234 5678 9012 3456",   // 18 digits after 00
                    "٠١٢٣٤٥٦٧٨٩"] {             // no ASCII digits
            XCTAssertNil(Phone.normalize(raw), "\"\(raw)\" must be rejected")
        }
    }

    func testPhoneNormalisationIsIdempotent() {
        for raw in ["+44 20 7946 0958", "0044 20 7946 0958", "555-0100", "+1234567"] {
            let once = Phone.normalize(raw)
            XCTAssertEqual(once.flatMap(Phone.normalize), once, raw)
        }
    }

    // MARK: Domain.normalize

    func testDomainNormalisation() {
        let cases: [(String, String)] = [
            ("https://www.Acme.com/", "acme.com"),
            ("https://www.Acme.com/about?x=1#top", "acme.com"),
            ("ACME.COM", "acme.com"),
            ("acme.com.", "acme.com"),
            ("www.acme.com", "acme.com"),
            ("http://sub.acme.co.uk:8080/path", "sub.acme.co.uk"),
            ("info@acme.com", "acme.com"),
            ("mailto:info@acme.com", "acme.com"),
            ("  acme.io  ", "acme.io"),
            ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ("my-company.example", "my-company.example"),
            ("www2.acme.com", "www2.acme.com"),
        ]
        for (raw, expected) in cases { XCTAssertEqual(Domain.normalize(raw), expected, raw) }
    }

    func testInvalidDomains() {
        for raw in ["", "acme", "localhost", "http://", "https://www.", "1.2.3.4", "-acme.com", "acme-.com", "acme..com", "ac me.com",
                    "acme_corp.com", ".com", String(repeating: "a", count: 64) + ".com",
                    (0..<60).map { _ in "abcd" }.joined(separator: ".") + ".com"] {
            XCTAssertNil(Domain.normalize(raw), "\"\(raw.prefix(60))\" must be rejected")
        }
    }

    func testDomainNormalisationIsIdempotent() {
        for raw in ["https://www.Acme.com/", "sub.example.co.uk", "info@acme.com"] {
            let once = Domain.normalize(raw)
            XCTAssertEqual(once.flatMap(Domain.normalize), once, raw)
        }
    }

    // MARK: Money

    func testMinorUnitsAreExact() {
        let cases: [(String, String, Int64?)] = [
            ("12.34", "USD", 1234), ("12.3", "USD", 1230), ("12", "USD", 1200), ("0.01", "USD", 1), ("0", "USD", 0),
            ("12.340", "USD", 1234), ("-5.5", "USD", -550), ("1e2", "USD", 10000), ("0.1", "EUR", 10),
            ("1000000000000.01", "USD", 100_000_000_000_001),
            ("12.345", "USD", nil), ("0.001", "EUR", nil),
            ("100", "JPY", 100), ("100.5", "JPY", nil), ("0.5", "KRW", nil),
            ("1.234", "BHD", 1234), ("1.2345", "BHD", nil), ("7", "KWD", 7000),
            ("abc", "USD", nil), ("", "USD", nil),
            ("12.34", "XXX", 1234),   // unknown currencies default to two digits
        ]
        for (text, currency, expected) in cases { XCTAssertEqual(Money.minorUnits(text, currency: currency), expected, "\(text) \(currency)") }
        // 0.1 + 0.2 in binary floating point is 0.30000000000000004; the decimal text is exact.
        XCTAssertEqual(Money.minorUnits("0.3", currency: "USD"), 30)
        XCTAssertNil(Money.minorUnits("0.30000000000000004", currency: "USD"))
    }

    func testFormatRendersMajorUnits() {
        let cases: [(Int64, String, String)] = [
            (1234, "USD", "12.34"), (1200, "USD", "12"), (1250, "USD", "12.5"), (5, "USD", "0.05"), (50, "USD", "0.5"), (0, "USD", "0"),
            (-5, "USD", "-0.05"), (-1234, "EUR", "-12.34"), (100, "JPY", "100"), (-7, "JPY", "-7"), (1234, "BHD", "1.234"), (1000, "KWD", "1"),
            (100_000_000_000_001, "USD", "1000000000000.01"),
        ]
        for (minor, currency, expected) in cases { XCTAssertEqual(Money.format(minor, currency: currency), expected, "\(minor) \(currency)") }
    }

    func testMoneyRoundTrips() {
        for currency in ["USD", "JPY", "BHD"] {
            for minor: Int64 in [0, 1, 9, 10, 99, 100, 101, 12_345, -1, -99, -100_001, 999_999_999_999] {
                let text = Money.format(minor, currency: currency)
                XCTAssertEqual(Money.minorUnits(text, currency: currency), minor, "\(minor) \(currency) → \(text)")
            }
        }
    }

    // MARK: Similarity.trigram

    func testTrigramSimilarity() {
        XCTAssertEqual(Similarity.trigram("Acme", "acme"), 1.0, "case-insensitive")
        XCTAssertEqual(Similarity.trigram("Ada Lovelace", "ada  lovelace!"), 1.0, "punctuation and spacing do not matter")
        XCTAssertEqual(Similarity.trigram("abc", "xyz"), 0.0)
        XCTAssertEqual(Similarity.trigram("", ""), 0.0)
        XCTAssertEqual(Similarity.trigram("", "acme"), 0.0)
        // pg_trgm: similarity('word', 'words') = 4 shared of 7 distinct trigrams.
        XCTAssertEqual(Similarity.trigram("word", "words"), 4.0 / 7.0, accuracy: 1e-9)
        XCTAssertEqual(Similarity.trigram("words", "word"), Similarity.trigram("word", "words"), "symmetric")
        let typo = Similarity.trigram("acme corporation", "acme corporatoin")
        XCTAssertGreaterThan(typo, 0.5)
        XCTAssertLessThan(typo, 1.0)
        XCTAssertGreaterThan(Similarity.trigram("Jonathan Smith", "Jonathon Smith"), Similarity.trigram("Jonathan Smith", "Jane Smythe"))
        for (a, b) in [("a", "b"), ("Ada", "Adah"), ("x y z", "x")] {
            let s = Similarity.trigram(a, b)
            XCTAssertTrue((0...1).contains(s), "\(a) ~ \(b) = \(s)")
        }
    }

    // MARK: FilterParser

    static let workspace = WorkspaceID.generate()
    static let march15 = Timestamp.parse("2026-03-15T23:30:00Z")!

    static func definition(_ key: String, _ type: CustomFieldType, options: [String] = []) -> CustomFieldDefinition {
        CustomFieldDefinition(id: CustomFieldID.generate(), workspaceID: workspace, objectType: "contact", key: key, label: key, type: type,
                              options: options, required: false, createdAt: march15, updatedAt: march15, createdBy: nil, version: 1)
    }

    static func parser(_ tz: String = "UTC", now: Date = march15, schema: ObjectSchema = ContactBehavior.schema,
                       errorKind: APIError.Kind = .validationFailed) -> FilterParser {
        FilterParser(schema: schema, customFields: [definition("due", .date), definition("due_at", .datetime), definition("score", .number),
                                                    definition("tier", .select, options: ["Gold", "Silver"])],
                     timezone: TimeZone(identifier: tz)!, now: now, currency: "USD", errorKind: errorKind)
    }

    static func parse(_ p: FilterParser, _ json: String) throws -> FilterNode {
        guard let value = JSONValue.parse(json) else {
            XCTFail("bad test JSON: \(json)")
            return .always(false)
        }
        return try p.parse(value)
    }

    static let createdAt = FilterTarget.column(name: "created_at", column: "created_at", lower: nil, family: .datetime, caseInsensitive: false)

    static func ms(_ iso: String) -> BoundValue { .int(Timestamp.millis(Timestamp.parse(iso)!)) }

    static func range(_ from: String, _ to: String) -> FilterNode {
        .and([.compare(createdAt, .gte, [ms(from)]), .compare(createdAt, .lt, [ms(to)])])
    }

    static func dateRange(_ key: String, _ from: String, _ to: String) -> FilterNode {
        let t = FilterTarget.custom(key: key, type: .date)
        return .and([.compare(t, .gte, [.text(from)]), .compare(t, .lt, [.text(to)])])
    }

    func assertRelative(_ p: FilterParser, _ op: String, value: String? = nil, field: String = "created_at", _ expected: FilterNode,
                        file: StaticString = #filePath, line: UInt = #line) {
        let v = value.map { ", \"value\": \($0)" } ?? ""
        XCTAssertEqual(try RecordValueTests.parse(p, "{\"field\": \"\(field)\", \"op\": \"\(op)\"\(v)}"), expected, "\(op) \(value ?? "")", file: file, line: line)
    }

    func testRelativeDatesInTokyo() {
        // 2026-03-15T23:30Z is Monday 2026-03-16 08:30 in Tokyo (UTC+9).
        let p = RecordValueTests.parser("Asia/Tokyo")
        let R = RecordValueTests.self
        assertRelative(p, "today", R.range("2026-03-15T15:00:00Z", "2026-03-16T15:00:00Z"))
        assertRelative(p, "this_week", R.range("2026-03-15T15:00:00Z", "2026-03-22T15:00:00Z"))
        assertRelative(p, "this_month", R.range("2026-02-28T15:00:00Z", "2026-03-31T15:00:00Z"))
        assertRelative(p, "this_quarter", R.range("2025-12-31T15:00:00Z", "2026-03-31T15:00:00Z"))
        assertRelative(p, "last_n_days", value: "7", R.range("2026-03-08T15:00:00Z", "2026-03-16T15:00:00Z"))
        assertRelative(p, "next_n_days", value: "3", R.range("2026-03-15T15:00:00Z", "2026-03-19T15:00:00Z"))
        assertRelative(p, "today", field: "custom_fields.due", R.dateRange("due", "2026-03-16", "2026-03-17"))
        assertRelative(p, "this_week", field: "custom_fields.due", R.dateRange("due", "2026-03-16", "2026-03-23"))
        assertRelative(p, "this_quarter", field: "custom_fields.due", R.dateRange("due", "2026-01-01", "2026-04-01"))
        // Custom date-times compare on their stored RFC 3339 text.
        let dueAt = FilterTarget.custom(key: "due_at", type: .datetime)
        assertRelative(p, "today", field: "custom_fields.due_at",
                       .and([.compare(dueAt, .gte, [.text("2026-03-15T15:00:00.000Z")]), .compare(dueAt, .lt, [.text("2026-03-16T15:00:00.000Z")])]))
    }

    func testRelativeDatesInNewYorkAcrossDaylightSaving() {
        // 2026-03-15T23:30Z is Sunday 19:30 EDT (UTC-4); DST began on 2026-03-08.
        let p = RecordValueTests.parser("America/New_York")
        let R = RecordValueTests.self
        assertRelative(p, "today", R.range("2026-03-15T04:00:00Z", "2026-03-16T04:00:00Z"))
        assertRelative(p, "this_week", R.range("2026-03-09T04:00:00Z", "2026-03-16T04:00:00Z"))
        assertRelative(p, "this_month", R.range("2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z"))
        assertRelative(p, "this_quarter", R.range("2026-01-01T05:00:00Z", "2026-04-01T04:00:00Z"))
        assertRelative(p, "today", field: "custom_fields.due", R.dateRange("due", "2026-03-15", "2026-03-16"))
        assertRelative(p, "this_week", field: "custom_fields.due", R.dateRange("due", "2026-03-09", "2026-03-16"))
        // The week that contains the change is 167 hours long.
        let dstWeek = RecordValueTests.parser("America/New_York", now: Timestamp.parse("2026-03-05T12:00:00Z")!)
        assertRelative(dstWeek, "this_week", R.range("2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z"))
        assertRelative(dstWeek, "next_n_days", value: "7", R.range("2026-03-05T05:00:00Z", "2026-03-13T04:00:00Z"))
    }

    func testRelativeDatesAroundTheYearBoundary() {
        // Friday 2027-01-01 (UTC): the ISO week began on Monday 2026-12-28.
        let p = RecordValueTests.parser("UTC", now: Timestamp.parse("2027-01-01T12:00:00Z")!)
        let R = RecordValueTests.self
        assertRelative(p, "this_week", R.range("2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"))
        assertRelative(p, "this_month", R.range("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"))
        assertRelative(p, "this_quarter", R.range("2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z"))
        assertRelative(p, "last_n_days", value: "1", R.range("2026-12-31T00:00:00Z", "2027-01-02T00:00:00Z"))
        assertRelative(p, "last_n_days", value: "3650", R.range("2017-01-03T00:00:00Z", "2027-01-02T00:00:00Z"))
        // Q4 in a leap year, seen from late December.
        let dec = RecordValueTests.parser("UTC", now: Timestamp.parse("2028-12-31T23:59:59Z")!)
        assertRelative(dec, "this_quarter", R.range("2028-10-01T00:00:00Z", "2029-01-01T00:00:00Z"))
        assertRelative(dec, "this_month", R.range("2028-12-01T00:00:00Z", "2029-01-01T00:00:00Z"))
    }

    func assertFails(_ p: FilterParser, _ json: String, field: String, code: String, kind: APIError.Kind = .validationFailed,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            let node = try RecordValueTests.parse(p, json)
            XCTFail("expected \(code) for \(json.prefix(120)), got \(node)", file: file, line: line)
        } catch let e as APIError {
            XCTAssertEqual(e.kind, kind, json, file: file, line: line)
            XCTAssertEqual(e.details.first?.field, field, "\(json.prefix(120)): \(e)", file: file, line: line)
            XCTAssertEqual(e.details.first?.code, code, "\(json.prefix(120)): \(e)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testTypeAndOperatorErrors() {
        let p = RecordValueTests.parser()
        assertFails(p, #"{"field": "nope", "op": "eq", "value": 1}"#, field: "filter.field", code: "unknown_field")
        assertFails(p, #"{"field": "custom_fields.nope", "op": "eq", "value": 1}"#, field: "filter.field", code: "unknown_field")
        assertFails(p, #"{"field": "address", "op": "eq", "value": "x"}"#, field: "filter.field", code: "unknown_field")
        assertFails(p, #"{"field": "email", "op": "matches", "value": "x"}"#, field: "filter.op", code: "unknown_operator")
        assertFails(p, #"{"field": "email", "op": "eq", "value": 5}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "email_opt_out", "op": "eq", "value": "true"}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "email_opt_out", "op": "gt", "value": true}"#, field: "filter.op", code: "invalid_operator")
        assertFails(p, #"{"field": "created_at", "op": "gt", "value": "yesterday"}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "created_at", "op": "contains", "value": "2026"}"#, field: "filter.op", code: "invalid_operator")
        assertFails(p, #"{"field": "version", "op": "eq", "value": "1"}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "custom_fields.score", "op": "gte", "value": "10"}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "custom_fields.due", "op": "eq", "value": "2026-02-30"}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "first_name", "op": "this_week"}"#, field: "filter.op", code: "invalid_operator")
        assertFails(p, #"{"field": "created_at", "op": "last_n_days", "value": 0}"#, field: "filter.value", code: "invalid_value")
        assertFails(p, #"{"field": "created_at", "op": "last_n_days", "value": 3651}"#, field: "filter.value", code: "invalid_value")
        assertFails(p, #"{"field": "created_at", "op": "next_n_days", "value": "7"}"#, field: "filter.value", code: "invalid_value")
        assertFails(p, #"{"field": "created_at", "op": "next_n_days", "value": 2.5}"#, field: "filter.value", code: "invalid_value")
        assertFails(p, #"{"field": "email", "op": "is_null", "value": 1}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "email", "op": "in", "value": "a@b.co"}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "email", "op": "between", "value": ["a"]}"#, field: "filter.value", code: "invalid_type")
        assertFails(p, #"{"field": "tags", "op": "lt", "value": "a"}"#, field: "filter.op", code: "invalid_operator")
        assertFails(p, #"{"field": "email", "op": "eq", "value": "x", "hint": 1}"#, field: "filter.hint", code: "unknown_field")
        assertFails(p, #"{"op": "eq", "value": "x"}"#, field: "filter.field", code: "required")
        assertFails(p, #"{"and": [{"field": "email", "op": "eq", "value": "x"}, {"not": {"field": "nope", "op": "eq", "value": 1}}]}"#,
                    field: "filter.and[1].not.field", code: "unknown_field")
        assertFails(p, #"{"or": []}"#, field: "filter.or", code: "invalid_type")
        assertFails(p, #"[1, 2]"#, field: "filter", code: "invalid_type")
        // Query-string filters report the same problems as 400.
        let q = RecordValueTests.parser(errorKind: .badRequest)
        assertFails(q, #"{"field": "nope", "op": "eq", "value": 1}"#, field: "filter.field", code: "unknown_field", kind: .badRequest)
        // Money precision follows the workspace currency.
        let companies = RecordValueTests.parser(schema: CompanyBehavior.schema)
        assertFails(companies, #"{"field": "annual_revenue", "op": "gte", "value": 1.005}"#, field: "filter.value", code: "invalid_precision")
    }

    func testValuesAreBoundInTheirStoredForm() throws {
        let p = RecordValueTests.parser()
        let phone = FilterTarget.column(name: "phone", column: "phone", lower: "phone_digits", family: .text, caseInsensitive: true)
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "phone", "op": "eq", "value": "+44 (20) 7946-0958"}"#),
                       .compare(phone, .eq, [.text("442079460958")]))
        let email = FilterTarget.column(name: "email", column: "email", lower: nil, family: .text, caseInsensitive: false)
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "email", "op": "in", "value": ["ADA@X.COM", "b@y.org"]}"#),
                       .compare(email, .in, [.text("ada@x.com"), .text("b@y.org")]))
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "email", "op": "eq", "value": null}"#), .isNull(email, true))
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "email", "op": "neq", "value": null}"#), .isNull(email, false))
        let stage = FilterTarget.column(name: "lifecycle_stage", column: "lifecycle_stage", lower: nil, family: .text, caseInsensitive: false)
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "lifecycle_stage", "op": "eq", "value": "lead"}"#), .compare(stage, .eq, [.text("lead")]))
        let optOut = FilterTarget.column(name: "email_opt_out", column: "email_opt_out", lower: nil, family: .bool, caseInsensitive: false)
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"not": {"field": "email_opt_out", "op": "eq", "value": true}}"#),
                       .not(.compare(optOut, .eq, [.bool(true)])))
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "created_at", "op": "between", "value": ["2026-01-01", "2026-01-31T23:59:59Z"]}"#),
                       .compare(RecordValueTests.createdAt, .between, [RecordValueTests.ms("2026-01-01T00:00:00Z"), RecordValueTests.ms("2026-01-31T23:59:59Z")]))
        let score = FilterTarget.custom(key: "score", type: .number)
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "custom_fields.score", "op": "gt", "value": 10}"#), .compare(score, .gt, [.double(10)]))
        let tier = FilterTarget.custom(key: "tier", type: .select)
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "custom_fields.tier", "op": "eq", "value": "GOLD"}"#), .compare(tier, .eq, [.text("gold")]))
        XCTAssertEqual(try RecordValueTests.parse(p, #"{"field": "tags", "op": "contains", "value": "VIP"}"#), .compare(.tags, .contains, [.text("vip")]))

        let companies = RecordValueTests.parser(schema: CompanyBehavior.schema)
        let domain = FilterTarget.column(name: "domain", column: "domain", lower: nil, family: .text, caseInsensitive: false)
        XCTAssertEqual(try RecordValueTests.parse(companies, #"{"field": "domain", "op": "eq", "value": "https://www.Acme.com/"}"#),
                       .compare(domain, .eq, [.text("acme.com")]))
        let revenue = FilterTarget.column(name: "annual_revenue", column: "annual_revenue", lower: nil, family: .money, caseInsensitive: false)
        XCTAssertEqual(try RecordValueTests.parse(companies, #"{"field": "annual_revenue", "op": "gte", "value": 12.5}"#),
                       .compare(revenue, .gte, [.int(1250)]))
    }

    func testConditionAndDepthLimits() throws {
        let p = RecordValueTests.parser()
        func conditions(_ n: Int) -> String {
            (0..<n).map { #"{"field": "first_name", "op": "eq", "value": "n\#($0)"}"# }.joined(separator: ", ")
        }
        XCTAssertNoThrow(try RecordValueTests.parse(p, "{\"and\": [\(conditions(50))]}"))
        assertFails(p, "{\"and\": [\(conditions(51))]}", field: "filter.and[50]", code: "too_many_conditions")
        XCTAssertNoThrow(try RecordValueTests.parse(p, "{\"or\": [{\"and\": [\(conditions(25))]}, {\"not\": {\"and\": [\(conditions(25))]}}]}"))
        assertFails(p, "{\"or\": [{\"and\": [\(conditions(25))]}, {\"and\": [\(conditions(26))]}]}", field: "filter.or[1].and[25]", code: "too_many_conditions")
        XCTAssertEqual(FilterParser.maxConditions, 50)
        XCTAssertEqual(FilterParser.maxDepth, 5)

        let leaf = #"{"field": "email", "op": "is_null", "value": false}"#
        var depth5 = leaf
        for _ in 0..<4 { depth5 = "{\"and\": [\(depth5)]}" }
        XCTAssertNoThrow(try RecordValueTests.parse(p, depth5), "a condition inside four groups is depth 5")
        assertFails(p, "{\"and\": [\(depth5)]}", field: "filter.and[0].and[0].and[0].and[0].and[0]", code: "too_deep")
        var nots = leaf
        for _ in 0..<5 { nots = "{\"not\": \(nots)}" }
        assertFails(p, nots, field: "filter.not.not.not.not.not", code: "too_deep")
    }

    func testSortKeys() throws {
        let p = RecordValueTests.parser()
        let byName = try p.sortKey("-name")
        XCTAssertTrue(byName.descending)
        XCTAssertEqual(byName.target, .column(name: "display_name", column: "display_name", lower: "display_name_lower", family: .text, caseInsensitive: true))
        let byEmail = try p.sortKey("email")
        XCTAssertFalse(byEmail.descending)
        XCTAssertTrue(byEmail.nullable, "e-mail may be null: NULLs sort last")
        XCTAssertFalse(try p.sortKey("created_at").nullable)
        let custom = try p.sortKey("-custom_fields.score")
        XCTAssertEqual(custom.target, .custom(key: "score", type: .number))
        XCTAssertTrue(custom.nullable)
        for bad in ["phone", "nope", "custom_fields.nope", "tags", "address", "-", ""] {
            XCTAssertThrowsError(try p.sortKey(bad), bad)
        }
    }
}
