import Foundation
import KeelCore
import XCTest

final class SearchFilterTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    struct People: Sendable {
        let ada: String, bob: String, carol: String, dan: String
        let acme: String
        var all: Set<String> { [ada, bob, carol, dan] }
    }

    static func seed(_ api: API, _ t: String) async throws -> People {
        let acme = try await R.company(api, t, ["name": "Acme", "domain": "acme.com"])
        let ada = try await R.contact(api, t, ["first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.org", "phone": "+44 20 7946 0958",
                                              "title": "Countess", "lifecycle_stage": "customer", "company_id": acme, "email_opt_out": true])
        let bob = try await R.contact(api, t, ["first_name": "Bob", "email": "bob@example.com", "lifecycle_stage": "lead", "title": "CEO"])
        let carol = try await R.contact(api, t, ["first_name": "Carol", "last_name": "Lovell", "company_id": acme])
        let dan = try await R.contact(api, t, ["first_name": "Dan", "email": "dan@example.com", "lifecycle_stage": "lead", "phone": "555-0100"])
        return People(ada: ada, bob: bob, carol: carol, dan: dan, acme: acme)
    }

    static func day(_ offset: Int, from base: Date = Date()) -> String {
        Timestamp.format(base.addingTimeInterval(Double(offset) * 86_400))
    }

    func testOperatorsOnStandardFields() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let me = try await F.userID(api, t)
            let p = try await SearchFilterTests.seed(api, t)
            let cases: [(Any, Set<String>)] = [
                (["field": "email", "op": "eq", "value": "ADA@Analytical.ORG"], [p.ada]),
                (["field": "email", "op": "neq", "value": "bob@example.com"], [p.ada, p.carol, p.dan]),
                (["field": "email", "op": "is_null", "value": true], [p.carol]),
                (["field": "email", "op": "is_null", "value": false], [p.ada, p.bob, p.dan]),
                (["field": "email", "op": "eq", "value": NSNull()], [p.carol]),
                (["field": "email", "op": "contains", "value": "EXAMPLE"], [p.bob, p.dan]),
                (["field": "email", "op": "starts_with", "value": "da"], [p.dan]),
                (["field": "first_name", "op": "in", "value": ["ada", "BOB"]], [p.ada, p.bob]),
                (["field": "first_name", "op": "nin", "value": ["Ada"]], [p.bob, p.carol, p.dan]),
                (["field": "first_name", "op": "gte", "value": "c"], [p.carol, p.dan]),
                (["field": "first_name", "op": "between", "value": ["B", "c"]], [p.bob]),
                (["field": "display_name", "op": "starts_with", "value": "CAR"], [p.carol]),
                (["field": "display_name", "op": "contains", "value": "love"], [p.ada, p.carol]),
                (["field": "last_name", "op": "eq", "value": "lovelace"], [p.ada]),
                (["field": "title", "op": "eq", "value": "ceo"], [p.bob]),
                (["field": "title", "op": "contains", "value": "COUNT"], [p.ada]),
                (["field": "lifecycle_stage", "op": "eq", "value": "lead"], [p.bob, p.dan]),
                (["field": "lifecycle_stage", "op": "in", "value": ["customer", "lead"]], [p.ada, p.bob, p.dan]),
                (["field": "lifecycle_stage", "op": "neq", "value": "lead"], [p.ada, p.carol]),
                (["field": "lifecycle_stage", "op": "is_null", "value": true], [p.carol]),
                (["field": "company_id", "op": "eq", "value": p.acme], [p.ada, p.carol]),
                (["field": "company_id", "op": "is_null", "value": true], [p.bob, p.dan]),
                (["field": "phone", "op": "eq", "value": "+44 (20) 7946-0958"], [p.ada]),
                (["field": "phone", "op": "contains", "value": "7946 0958"], [p.ada]),
                (["field": "email_opt_out", "op": "eq", "value": true], [p.ada]),
                (["field": "email_opt_out", "op": "eq", "value": false], [p.bob, p.carol, p.dan]),
                (["field": "owner_id", "op": "eq", "value": me], p.all),
                (["field": "created_by", "op": "eq", "value": me], p.all),
                (["field": "id", "op": "in", "value": [p.ada, p.dan]], [p.ada, p.dan]),
                (["field": "version", "op": "eq", "value": 1], p.all),
                (["field": "visibility", "op": "eq", "value": "workspace"], p.all),
                (["field": "created_at", "op": "between", "value": [SearchFilterTests.day(-1), SearchFilterTests.day(1)]], p.all),
                (["field": "created_at", "op": "gt", "value": SearchFilterTests.day(1)], []),
                (["field": "created_at", "op": "lt", "value": "2000-01-01T00:00:00Z"], []),
                (["field": "updated_at", "op": "gte", "value": "2000-01-01T00:00:00.000Z"], p.all),
                (["field": "last_activity_at", "op": "is_null", "value": true], p.all),
                (["or": [["field": "email", "op": "eq", "value": "ada@analytical.org"], ["field": "first_name", "op": "eq", "value": "bob"]]], [p.ada, p.bob]),
                (["not": ["field": "email", "op": "is_null", "value": true]], [p.ada, p.bob, p.dan]),
                (["and": [["or": [["field": "lifecycle_stage", "op": "eq", "value": "lead"], ["field": "company_id", "op": "eq", "value": p.acme]]],
                          ["not": ["field": "first_name", "op": "eq", "value": "ada"]]]], [p.bob, p.carol, p.dan]),
                (["and": [["field": "lifecycle_stage", "op": "eq", "value": "lead"], ["field": "title", "op": "eq", "value": "ceo"]]], [p.bob]),
            ]
            for (filter, expected) in cases {
                let got = try await R.searchIDs(api, t, "contacts", filter)
                XCTAssertEqual(got, expected, "\(filter)")
            }
            // No filter at all, and a free-text q next to the filter.
            let everything = try await api.post("/api/v1/contacts/search", token: t, json: [String: Any]())
            XCTAssertEqual(everything.code, 200, everything.text)
            XCTAssertEqual(Set(R.ids(everything.items)), p.all)
            let withQ = try await R.search(api, t, "contacts", ["field": "company_id", "op": "eq", "value": p.acme], extra: ["q": "LOVEL"])
            XCTAssertEqual(Set(R.ids(withQ.items)), [p.ada, p.carol])
            let qOnly = try await api.post("/api/v1/contacts/search", token: t, json: ["q": "lovelace"])
            XCTAssertEqual(R.ids(qOnly.items), [p.ada])
        }
    }

    func testNotIsTheComplementIncludingNulls() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let p = try await SearchFilterTests.seed(api, t)
            // `not X` must return exactly the records X does not return (records whose field is NULL included),
            // just as `neq` / `nin` include NULLs.
            let inner: [String: Any] = ["field": "lifecycle_stage", "op": "eq", "value": "lead"]
            let matched = try await R.searchIDs(api, t, "contacts", inner)
            XCTAssertEqual(matched, [p.bob, p.dan])
            let negated = try await R.searchIDs(api, t, "contacts", ["not": inner])
            XCTAssertEqual(negated, p.all.subtracting(matched), "not(lifecycle_stage eq lead) must include Carol, whose stage is null")
            let neq = try await R.searchIDs(api, t, "contacts", ["field": "lifecycle_stage", "op": "neq", "value": "lead"])
            XCTAssertEqual(negated, neq, "not(eq) and neq must agree")
            let notTitle = try await R.searchIDs(api, t, "contacts", ["not": ["field": "title", "op": "contains", "value": "e"]])
            XCTAssertEqual(notTitle, [p.carol, p.dan], "not(title contains e): records without a title included")
        }
    }

    func testPhonesMatchAsStoredInQAndFilters() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let p = try await SearchFilterTests.seed(api, t)
            // Dan's phone has no + / 00 prefix and is stored as given ("555-0100"). Searching for it as shown must find it.
            let dan = try await R.get(api, t, "contacts", p.dan)
            XCTAssertEqual(dan["phone"] as? String, "555-0100")
            let q = try await R.listIDs(api, t, "/api/v1/contacts?q=555-0100")
            XCTAssertEqual(q, [p.dan], "api.md §7: q is a substring match over phone")
            let qDigits = try await R.listIDs(api, t, "/api/v1/contacts?q=5550100")
            XCTAssertEqual(qDigits, [p.dan], "formatting is ignored when matching phones")
            let contains = try await R.searchIDs(api, t, "contacts", ["field": "phone", "op": "contains", "value": "555-01"])
            XCTAssertEqual(contains, [p.dan])
            let eq = try await R.searchIDs(api, t, "contacts", ["field": "phone", "op": "eq", "value": "555-0100"])
            XCTAssertEqual(eq, [p.dan])
            // E.164 phones match with or without formatting.
            let ada = try await R.listIDs(api, t, "/api/v1/contacts?q=\(R.q("+442079460958"))")
            XCTAssertEqual(ada, [p.ada])
        }
    }

    func testRelativeDatesUseTheWorkspaceTimezone() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            _ = try await R.customField(api, t, key: "due", type: "date")
            _ = try await R.customField(api, t, key: "due_at", type: "datetime")
            let now = Date()
            let kiritimati = TimeZone(identifier: "Pacific/Kiritimati")!   // UTC+14
            let pagoPago = TimeZone(identifier: "Pacific/Pago_Pago")!      // UTC-11
            func localDate(_ d: Date, _ tz: TimeZone) -> String {
                var c = Calendar(identifier: .iso8601)
                c.timeZone = tz
                let p = c.dateComponents([.year, .month, .day], from: d)
                return String(format: "%04d-%02d-%02d", p.year!, p.month!, p.day!)
            }
            let offsets = [-400, -10, -1, 0, 1, 40]
            var byOffset: [Int: String] = [:]
            for o in offsets {
                let date = localDate(now.addingTimeInterval(Double(o) * 86_400), kiritimati)
                byOffset[o] = try await R.contact(api, t, ["first_name": "D\(o)", "custom_fields": ["due": date]])
            }
            let none = try await R.contact(api, t, ["first_name": "No due"])
            func ids(_ os: [Int]) -> Set<String> { Set(os.compactMap { byOffset[$0] }) }
            let tz = try await api.patch("/api/v1/workspace", token: t, json: ["timezone": "Pacific/Kiritimati"])
            XCTAssertEqual(tz.code, 200, tz.text)

            let today = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due", "op": "today"])
            XCTAssertEqual(today, ids([0]), "today in the workspace timezone")
            let last7 = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due", "op": "last_n_days", "value": 7])
            XCTAssertTrue(last7.isSuperset(of: ids([-1, 0])), "last 7 days include yesterday and today")
            XCTAssertTrue(last7.isDisjoint(with: ids([-400, -10, 1, 40])), "\(last7)")
            XCTAssertFalse(last7.contains(none))
            let next7 = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due", "op": "next_n_days", "value": 7])
            XCTAssertTrue(next7.contains(byOffset[1]!), "next 7 days include tomorrow")
            XCTAssertTrue(next7.isDisjoint(with: ids([-400, -10, -1, 40])), "\(next7)")
            let last3650 = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due", "op": "last_n_days", "value": 3650])
            XCTAssertTrue(last3650.isSuperset(of: ids([-400, -10, -1, 0])))

            // Week (ISO, Monday first), month and quarter, computed here independently.
            var cal = Calendar(identifier: .iso8601)
            cal.timeZone = kiritimati
            cal.firstWeekday = 2
            let todayLocal = cal.startOfDay(for: now)
            func inPeriod(_ o: Int, _ comp: Calendar.Component) -> Bool {
                let d = now.addingTimeInterval(Double(o) * 86_400)
                switch comp {
                case .weekOfYear: return cal.component(.weekOfYear, from: d) == cal.component(.weekOfYear, from: todayLocal)
                        && cal.component(.yearForWeekOfYear, from: d) == cal.component(.yearForWeekOfYear, from: todayLocal)
                case .month: return cal.component(.month, from: d) == cal.component(.month, from: todayLocal)
                        && cal.component(.year, from: d) == cal.component(.year, from: todayLocal)
                default:
                    return (cal.component(.month, from: d) - 1) / 3 == (cal.component(.month, from: todayLocal) - 1) / 3
                        && cal.component(.year, from: d) == cal.component(.year, from: todayLocal)
                }
            }
            for (op, comp) in [("this_week", Calendar.Component.weekOfYear), ("this_month", .month), ("this_quarter", .quarter)] {
                let got = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due", "op": op])
                XCTAssertEqual(got, ids(offsets.filter { inPeriod($0, comp) }), op)
            }

            // The same stored dates seen from a timezone 25 hours behind: Kiritimati's today is not Pago Pago's today.
            let west = try await api.patch("/api/v1/workspace", token: t, json: ["timezone": "Pacific/Pago_Pago"])
            XCTAssertEqual(west.code, 200, west.text)
            let pagoToday = localDate(now, pagoPago)
            let expectedWest = Set(offsets.filter { localDate(now.addingTimeInterval(Double($0) * 86_400), kiritimati) == pagoToday }.compactMap { byOffset[$0] })
            let todayWest = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due", "op": "today"])
            XCTAssertEqual(todayWest, expectedWest, "today follows the workspace timezone (Pago Pago today = \(pagoToday))")
            XCTAssertFalse(todayWest.contains(byOffset[0]!), "Kiritimati's today is tomorrow (or later) in Pago Pago")

            // Datetime fields: a moment just now is today / this week / this month / this quarter / last 1 day in any timezone.
            let stamp = try await R.contact(api, t, ["first_name": "Stamped", "custom_fields": ["due_at": Timestamp.format(now)]])
            let old = try await R.contact(api, t, ["first_name": "Old", "custom_fields": ["due_at": "2001-01-01T00:00:00Z"]])
            for op in ["today", "this_week", "this_month", "this_quarter"] {
                let got = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due_at", "op": op])
                XCTAssertEqual(got, [stamp], op)
                let created = try await R.searchIDs(api, t, "contacts", ["field": "created_at", "op": op])
                XCTAssertTrue(created.contains(stamp) && created.contains(old) && created.contains(none), "created_at \(op)")
            }
            let last1 = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.due_at", "op": "last_n_days", "value": 1])
            XCTAssertEqual(last1, [stamp])
            let createdNext = try await R.searchIDs(api, t, "contacts", ["field": "created_at", "op": "next_n_days", "value": 1])
            XCTAssertTrue(createdNext.contains(stamp))
            let createdLast = try await R.searchIDs(api, t, "contacts", ["field": "created_at", "op": "last_n_days", "value": 1])
            XCTAssertEqual(createdLast.count, offsets.count + 3)
        }
    }

    func testFilterValidationErrors() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            _ = try await SearchFilterTests.seed(api, t)
            let ok: [String: Any] = ["field": "email", "op": "eq", "value": "x@example.com"]
            let cases: [(Any, String, String)] = [
                (["field": "nope", "op": "eq", "value": 1], "filter.field", "unknown_field"),
                (["field": "email", "op": "like", "value": "x"], "filter.op", "unknown_operator"),
                (["and": [ok, ["field": "nope", "op": "eq", "value": 1]]], "filter.and[1].field", "unknown_field"),
                (["or": [ok, ["not": ["field": "email", "op": "regex", "value": "x"]]]], "filter.or[1].not.op", "unknown_operator"),
                (["field": "email", "op": "eq", "value": 5], "filter.value", "invalid_type"),
                (["field": "email_opt_out", "op": "eq", "value": "true"], "filter.value", "invalid_type"),
                (["field": "created_at", "op": "gt", "value": "yesterday"], "filter.value", "invalid_type"),
                (["field": "created_at", "op": "contains", "value": "2026"], "filter.op", "invalid_operator"),
                (["field": "email_opt_out", "op": "gt", "value": true], "filter.op", "invalid_operator"),
                (["field": "first_name", "op": "today"], "filter.op", "invalid_operator"),
                (["field": "first_name", "op": "in", "value": "ada"], "filter.value", "invalid_type"),
                (["field": "first_name", "op": "in", "value": []], "filter.value", "invalid_type"),
                (["field": "first_name", "op": "in", "value": (0...100).map { "n\($0)" }], "filter.value", "invalid_type"),
                (["field": "first_name", "op": "in", "value": ["a", 1]], "filter.value", "invalid_type"),
                (["field": "first_name", "op": "between", "value": ["a"]], "filter.value", "invalid_type"),
                (["field": "first_name", "op": "contains", "value": ""], "filter.value", "invalid_type"),
                (["field": "email", "op": "is_null", "value": "yes"], "filter.value", "invalid_type"),
                (["field": "created_at", "op": "last_n_days", "value": 0], "filter.value", "invalid_value"),
                (["field": "created_at", "op": "last_n_days", "value": 3651], "filter.value", "invalid_value"),
                (["field": "created_at", "op": "next_n_days", "value": "7"], "filter.value", "invalid_value"),
                (["field": "created_at", "op": "last_n_days", "value": 1.5], "filter.value", "invalid_value"),
                (["field": "created_at", "op": "last_n_days"], "filter.value", "invalid_value"),
                (["field": "address", "op": "eq", "value": "London"], "filter.field", "unknown_field"),
                (["field": "custom_fields.nope", "op": "eq", "value": 1], "filter.field", "unknown_field"),
                (["field": "email", "op": "eq", "value": "x", "extra": 1], "filter.extra", "unknown_field"),
                (["field": "email", "value": "x"], "filter.op", "required"),
                (["op": "eq", "value": "x"], "filter.field", "required"),
                (["and": []], "filter.and", "invalid_type"),
                (["or": ok], "filter.or", "invalid_type"),
                ([ok], "filter", "invalid_type"),
                ("email = 'x'", "filter", "invalid_type"),
            ]
            for (filter, field, code) in cases {
                let r = try await R.search(api, t, "contacts", filter)
                R.assertError(r, 422, "validation_failed", field: field, detailCode: code, "\(filter)")
            }
            // 100 values in `in` is the limit and is fine.
            let hundred = try await R.search(api, t, "contacts", ["field": "first_name", "op": "in", "value": (0..<100).map { "n\($0)" }])
            XCTAssertEqual(hundred.code, 200, hundred.text)
            // Sorting, paging and body errors.
            R.assertError(try await api.post("/api/v1/contacts/search", token: t, json: ["sort": ["nope"]]), 422, "validation_failed", field: "sort", "bad sort")
            R.assertError(try await api.post("/api/v1/contacts/search", token: t, json: ["sort": ["phone"]]), 422, "validation_failed", "unsortable")
            R.assertError(try await api.post("/api/v1/contacts/search", token: t, json: ["sort": ["name", "email"]]), 422, "validation_failed", "two sorts")
            R.assertError(try await api.post("/api/v1/contacts/search", token: t, json: ["q": "a"]), 422, "validation_failed", "q too short")
            R.assertError(try await api.post("/api/v1/contacts/search", token: t, json: ["filter": ok, "colour": "red"]), 422, "validation_failed", "unknown key")
            for limit in [0, 201, -1] {
                let r = try await api.post("/api/v1/contacts/search", token: t, json: ["limit": limit])
                XCTAssertTrue(r.code == 400 || r.code == 422, "limit \(limit): \(r.text)")
            }
            R.assertError(try await api.post("/api/v1/contacts/search", token: t, json: ["cursor": "garbage"]), 400, "bad_request", "garbage cursor")
            R.assertError(try await api.send(.post, "/api/v1/contacts/search", token: t, raw: "{\"filter\": "), 400, "bad_request", "malformed JSON")
            // Money precision and operators on companies.
            R.assertError(try await R.search(api, t, "companies", ["field": "annual_revenue", "op": "eq", "value": 1.234]), 422, "validation_failed",
                          field: "filter.value", detailCode: "invalid_precision", "money precision")
            R.assertError(try await R.search(api, t, "companies", ["field": "annual_revenue", "op": "contains", "value": "1"]), 422, "validation_failed",
                          field: "filter.op", detailCode: "invalid_operator", "contains on money")
            R.assertError(try await R.search(api, t, "companies", ["field": "first_name", "op": "eq", "value": "x"]), 422, "validation_failed",
                          field: "filter.field", detailCode: "unknown_field", "contact field on companies")
        }
    }

    /// Builds `n` simple conditions.
    static func conditions(_ n: Int) -> [[String: Any]] {
        (0..<n).map { ["field": "first_name", "op": "neq", "value": "x\($0)"] }
    }

    func testConditionAndDepthLimits() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let p = try await SearchFilterTests.seed(api, t)
            let fifty = try await R.search(api, t, "contacts", ["and": SearchFilterTests.conditions(50)])
            XCTAssertEqual(fifty.code, 200, "50 conditions are allowed: \(fifty.text.prefix(300))")
            XCTAssertEqual(Set(R.ids(fifty.items)), p.all)
            let fiftyOne = try await R.search(api, t, "contacts", ["and": SearchFilterTests.conditions(51)])
            R.assertError(fiftyOne, 422, "validation_failed", "51 conditions")
            XCTAssertTrue(fiftyOne.errorDetails.contains { $0["code"] as? String == "too_many_conditions" }, fiftyOne.text)
            // Conditions count across groups.
            let split = try await R.search(api, t, "contacts", ["or": [["and": SearchFilterTests.conditions(26)], ["and": SearchFilterTests.conditions(25)]]])
            R.assertError(split, 422, "validation_failed", "51 conditions across groups")
            let splitOK = try await R.search(api, t, "contacts", ["or": [["and": SearchFilterTests.conditions(25)], ["and": SearchFilterTests.conditions(25)]]])
            XCTAssertEqual(splitOK.code, 200, splitOK.text.prefix(300).description)

            // Depth: a condition inside 4 groups is depth 5 (allowed); inside 5 groups depth 6 (refused).
            var depth5: [String: Any] = ["field": "email", "op": "is_null", "value": false]
            for _ in 0..<4 { depth5 = ["and": [depth5]] }
            let ok5 = try await R.search(api, t, "contacts", depth5)
            XCTAssertEqual(ok5.code, 200, ok5.text)
            XCTAssertEqual(Set(R.ids(ok5.items)), [p.ada, p.bob, p.dan])
            let depth6: [String: Any] = ["or": [depth5]]
            let refused6 = try await R.search(api, t, "contacts", depth6)
            R.assertError(refused6, 422, "validation_failed", "depth 6")
            XCTAssertTrue(refused6.errorDetails.contains { $0["code"] as? String == "too_deep" }, refused6.text)
            // `not` counts as a level too.
            var nots: [String: Any] = ["field": "email", "op": "is_null", "value": true]
            for _ in 0..<4 { nots = ["not": nots] }
            let notOK = try await R.search(api, t, "contacts", nots)
            XCTAssertEqual(notOK.code, 200, notOK.text)
            XCTAssertEqual(Set(R.ids(notOK.items)), [p.carol], "four nots cancel out")
            let notDeep = try await R.search(api, t, "contacts", ["not": nots])
            R.assertError(notDeep, 422, "validation_failed", "five nots + condition = depth 6")
        }
    }

    func testSearchPaginationSortAndTotal() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            var rows: [(id: String, name: String)] = []
            for name in ["kilo", "Alpha", "juliet", "Bravo", "india", "Hotel", "golf"] {
                rows.append((try await R.contact(api, t, ["first_name": name, "tags": ["all"]]), name))
            }
            let filter: [String: Any] = ["field": "tags", "op": "eq", "value": "all"]
            let expected = R.expectedOrder(rows.map { (id: $0.id, key: Optional($0.name.lowercased())) }, descending: true)
            let paged = try await R.collectSearch(api, t, "contacts", ["filter": filter, "sort": "-name"], limit: 2)
            XCTAssertEqual(paged, expected, "sort may also be a single string")
            let first = try await api.post("/api/v1/contacts/search", token: t, json: ["filter": filter, "sort": ["-name"], "limit": 3, "include_total": true])
            XCTAssertEqual(first.code, 200, first.text)
            XCTAssertEqual(R.int(first.json["total"]), 7)
            XCTAssertEqual(F.hasMore(first), true)
            let cursor = F.nextCursor(first) ?? ""
            // The cursor belongs to this filter and sort.
            let otherFilter = try await api.post("/api/v1/contacts/search", token: t, json: [
                "filter": ["field": "tags", "op": "eq", "value": "other"], "sort": ["-name"], "limit": 3, "cursor": cursor,
            ])
            R.assertError(otherFilter, 400, "bad_request", "cursor with another filter")
            let otherSort = try await api.post("/api/v1/contacts/search", token: t, json: ["filter": filter, "sort": ["name"], "limit": 3, "cursor": cursor])
            R.assertError(otherSort, 400, "bad_request", "cursor with another sort")
            let otherObject = try await api.post("/api/v1/companies/search", token: t, json: ["filter": filter, "sort": ["-name"], "limit": 3, "cursor": cursor])
            R.assertError(otherObject, 400, "bad_request", "contacts cursor on companies")
            let fine = try await api.post("/api/v1/contacts/search", token: t, json: ["filter": filter, "sort": ["-name"], "limit": 3, "cursor": cursor])
            XCTAssertEqual(R.ids(fine.items), Array(expected[3..<6]))
            let none = try await api.post("/api/v1/contacts/search", token: t, json: ["filter": ["field": "tags", "op": "eq", "value": "zzz"],
                                                                                 "include_total": true])
            XCTAssertEqual(R.int(none.json["total"]), 0)
            XCTAssertTrue(none.items.isEmpty)
            XCTAssertTrue(R.isNull(none.json["next_cursor"]))
        }
    }

    func testSearchCompanies() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let acme = try await R.company(api, t, ["name": "Acme", "domain": "acme.com", "annual_revenue": 1500.25, "tags": ["Partner"]])
            let globex = try await R.company(api, t, ["name": "Globex", "domain": "globex.io", "annual_revenue": 99, "size": "11-50"])
            let initech = try await R.company(api, t, ["name": "Initech", "industry": "Software"])
            let cases: [([String: Any], Set<String>)] = [
                (["field": "domain", "op": "eq", "value": "https://www.ACME.com/"], [acme]),
                (["field": "domain", "op": "contains", "value": ".io"], [globex]),
                (["field": "annual_revenue", "op": "gte", "value": 1500.25], [acme]),
                (["field": "annual_revenue", "op": "lt", "value": 1500.25], [globex]),
                (["field": "annual_revenue", "op": "between", "value": [99, 99.01]], [globex]),
                (["field": "annual_revenue", "op": "is_null", "value": true], [initech]),
                (["field": "size", "op": "eq", "value": "11-50"], [globex]),
                (["field": "industry", "op": "eq", "value": "SOFTWARE"], [initech]),
                (["field": "name", "op": "starts_with", "value": "gl"], [globex]),
                (["field": "tags", "op": "eq", "value": "partner"], [acme]),
            ]
            for (filter, expected) in cases {
                let got = try await R.searchIDs(api, t, "companies", filter)
                XCTAssertEqual(got, expected, "\(filter)")
            }
            // URLs keep their case when stored; an eq on the exact stored text must still match (string filters are case-insensitive).
            let site = try await R.company(api, t, ["name": "Site", "website": "https://Example.com/About"])
            let bySite = try await R.searchIDs(api, t, "companies", ["field": "website", "op": "eq", "value": "https://Example.com/About"])
            XCTAssertEqual(bySite, [site], "website eq its own stored value")
            let bySiteLower = try await R.searchIDs(api, t, "companies", ["field": "website", "op": "contains", "value": "example.com/about"])
            XCTAssertEqual(bySiteLower, [site], "website contains, case-insensitive")
            try await R.delete(api, t, "companies", site)
            let sorted = try await api.post("/api/v1/companies/search", token: t, json: ["sort": ["-annual_revenue"]])
            XCTAssertEqual(R.ids(sorted.items), [acme, globex, initech], "money sorts numerically with NULLs last")
        }
    }
}
