import Foundation
import KeelCore
import XCTest

final class CustomFieldsTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    static let allTypes = ["text", "number", "currency", "date", "datetime", "boolean", "select", "multi_select", "url", "email", "phone"]

    /// One contact field of every type: `f_<type>`.
    static func defineAll(_ api: API, _ token: String) async throws -> [String: String] {
        var ids: [String: String] = [:]
        for type in allTypes {
            let options: [String]? = type == "select" || type == "multi_select" ? ["Gold", "Silver", "Bronze"] : nil
            ids[type] = try await R.customField(api, token, key: "f_\(type)", type: type, options: options)
        }
        return ids
    }

    static func specs() -> [(String, [String: Any])] {
        [
            ("a", ["score": 10, "f_select": "Gold", "f_multi_select": ["Gold", "Silver"], "f_boolean": true, "f_date": "2026-01-15",
                   "f_text": "Alpha Centauri", "f_currency": 100.5, "f_datetime": "2026-01-15T10:00:00Z"]),
            ("b", ["score": 2.5, "f_select": "Silver", "f_multi_select": ["Bronze"], "f_boolean": false, "f_date": "2026-02-01", "f_text": "beta"]),
            ("c", ["score": 30, "f_select": "Gold", "f_boolean": true, "f_date": "2025-12-31", "f_currency": 5]),
            ("d", ["score": -1, "f_multi_select": ["Silver"], "f_text": "Gamma"]),
            ("e", [:]),
            ("f", ["score": 10, "f_select": "Bronze"]),
        ]
    }

    /// Defines every type plus `score` and creates contacts a...f with `specs()` values; returns name → id.
    static func seedValues(_ api: API, _ t: String) async throws -> [String: String] {
        _ = try await defineAll(api, t)
        _ = try await R.customField(api, t, key: "score", type: "number")
        var ids: [String: String] = [:]
        for (name, cf) in specs() { ids[name] = try await R.contact(api, t, ["first_name": name, "custom_fields": cf]) }
        return ids
    }

    func testDefinitionCRUD() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.admin.accessToken
            let r = try await api.post("/api/v1/custom-fields", token: t, json: [
                "object_type": "contact", "key": "tier", "label": " Customer tier ", "type": "select", "options": ["Gold", " Silver "], "required": false,
            ])
            XCTAssertEqual(r.code, 201, r.text)
            let id = r.data["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("cf_"), id)
            XCTAssertEqual(r.header("Location"), "/api/v1/custom-fields/\(id)")
            XCTAssertEqual(r.data["label"] as? String, "Customer tier")
            XCTAssertEqual(r.data["options"] as? [String], ["Gold", "Silver"])
            XCTAssertEqual(r.data["type"] as? String, "select")
            XCTAssertEqual(r.data["object_type"] as? String, "contact")
            XCTAssertEqual(r.data["required"] as? Bool, false)
            XCTAssertEqual(R.int(r.data["version"]), 1)
            let all = try await CustomFieldsTests.defineAll(api, t)
            let companyField = try await R.customField(api, t, objectType: "company", key: "tier", type: "number")

            // Reads need crm:read: viewers may list and get.
            let list = try await api.get("/api/v1/custom-fields?object_type=contact", token: team.viewer.accessToken)
            XCTAssertEqual(list.code, 200, list.text)
            XCTAssertEqual(Set(R.ids(list.items)), Set(all.values).union([id]))
            let companies = try await api.get("/api/v1/custom-fields?object_type=company", token: team.viewer.accessToken)
            XCTAssertEqual(R.ids(companies.items), [companyField])
            let everything = try await api.get("/api/v1/custom-fields", token: team.member.accessToken)
            XCTAssertEqual(everything.items.count, all.count + 2)
            R.assertError(try await api.get("/api/v1/custom-fields?object_type=widget", token: t), 400, "bad_request", "unknown object_type filter")
            let one = try await api.get("/api/v1/custom-fields/\(id)", token: team.viewer.accessToken)
            XCTAssertEqual(one.code, 200, one.text)
            XCTAssertEqual(one.header("ETag"), "\"1\"")

            // Updates: label, options and required; key/type/object_type are fixed; versions are enforced.
            let p = try await api.patch("/api/v1/custom-fields/\(id)", token: t, json: ["label": "Tier", "options": ["Gold", "Silver", "Platinum"], "version": 1])
            XCTAssertEqual(p.code, 200, p.text)
            XCTAssertEqual(p.data["options"] as? [String], ["Gold", "Silver", "Platinum"])
            XCTAssertEqual(R.int(p.data["version"]), 2)
            R.assertError(try await api.patch("/api/v1/custom-fields/\(id)", token: t, json: ["label": "Stale", "version": 1]), 409, "version_conflict", "stale")
            R.assertError(try await api.patch("/api/v1/custom-fields/\(id)", token: t, json: ["key": "level"]), 422, "validation_failed", field: "key",
                          "key is fixed")
            R.assertError(try await api.patch("/api/v1/custom-fields/\(id)", token: t, json: ["type": "text"]), 422, "validation_failed", field: "type",
                          "type is fixed")
            R.assertError(try await api.patch("/api/v1/custom-fields/\(id)", token: t, json: ["options": []]), 422, "validation_failed", field: "options",
                          "select needs options")
            R.assertError(try await api.patch("/api/v1/custom-fields/\(all["text"]!)", token: t, json: ["options": ["a"]]), 422, "validation_failed",
                          field: "options", "text takes no options")
            let after = try await api.get("/api/v1/custom-fields/\(id)", token: t)
            XCTAssertEqual(after.data["label"] as? String, "Tier", "refused patches write nothing")
            XCTAssertEqual(R.int(after.data["version"]), 2)

            // Creation refusals.
            let bad: [([String: Any], String)] = [
                (["object_type": "contact", "key": "Tier Two", "type": "text"], "key"),
                (["object_type": "contact", "key": "2fast", "type": "text"], "key"),
                (["object_type": "contact", "key": "", "type": "text"], "key"),
                (["object_type": "contact", "key": String(repeating: "k", count: 64), "type": "text"], "key"),
                (["object_type": "contact", "key": "x'); drop table contacts; --", "type": "text"], "key"),
                (["object_type": "widget", "key": "w", "type": "text"], "object_type"),
                (["object_type": "contact", "key": "t", "type": "json"], "type"),
                (["object_type": "contact", "key": "s", "type": "select"], "options"),
                (["object_type": "contact", "key": "s", "type": "multi_select", "options": ["a", "a"]], "options"),
                (["object_type": "contact", "key": "s", "type": "select", "options": [""]], "options"),
                (["object_type": "contact", "key": "n", "type": "number", "options": ["1"]], "options"),
                (["object_type": "contact", "key": "l", "type": "text", "label": String(repeating: "l", count: 201)], "label"),
            ]
            for (body, field) in bad {
                R.assertError(try await api.post("/api/v1/custom-fields", token: t, json: body), 422, "validation_failed", field: field, "\(body)")
            }
            R.assertError(try await api.post("/api/v1/custom-fields", token: t, json: ["object_type": "contact", "key": "tier", "type": "text"]), 409,
                          "duplicate", field: "key", "same key twice")
            R.assertError(try await api.post("/api/v1/custom-fields", token: t, json: ["object_type": "contact", "key": "x", "type": "text", "colour": "red"]),
                          422, "validation_failed", "unknown key")
            // Writes need workspace:write (admins).
            for token in [team.member.accessToken, team.viewer.accessToken] {
                R.assertError(try await api.post("/api/v1/custom-fields", token: token, json: ["object_type": "contact", "key": "m", "type": "text"]), 403,
                              "forbidden", "non-admin create")
                R.assertError(try await api.patch("/api/v1/custom-fields/\(id)", token: token, json: ["label": "M"]), 403, "forbidden", "non-admin patch")
                R.assertError(try await api.delete("/api/v1/custom-fields/\(id)", token: token), 403, "forbidden", "non-admin delete")
            }
            // Unknown, malformed and wrong-kind ids.
            for bad in [R.fakeID("cf"), "cf_1", R.fakeID("con")] {
                R.assertError(try await api.get("/api/v1/custom-fields/\(bad)", token: t), 404, "not_found", bad)
                R.assertError(try await api.patch("/api/v1/custom-fields/\(bad)", token: t, json: ["label": "x"]), 404, "not_found", bad)
                R.assertError(try await api.delete("/api/v1/custom-fields/\(bad)", token: t), 404, "not_found", bad)
            }
            // Delete.
            let del = try await api.delete("/api/v1/custom-fields/\(id)", token: t)
            XCTAssertEqual(del.code, 204, del.text)
            R.assertError(try await api.get("/api/v1/custom-fields/\(id)", token: t), 404, "not_found", "deleted definition")
            R.assertError(try await api.delete("/api/v1/custom-fields/\(id)", token: t), 404, "not_found", "deleted twice")
            let listAfter = try await api.get("/api/v1/custom-fields?object_type=contact", token: t)
            XCTAssertFalse(R.ids(listAfter.items).contains(id))
            // The key is free again.
            let again = try await api.post("/api/v1/custom-fields", token: t, json: ["object_type": "contact", "key": "tier", "type": "text"])
            XCTAssertEqual(again.code, 201, again.text)
            let audits = try await R.audit(api, team.owner.accessToken, "object_id=\(id)")
            XCTAssertEqual(Set(audits.compactMap { $0["action"] as? String }), ["custom_field.created", "custom_field.updated", "custom_field.deleted"])
        }
    }

    func testValuesOfEveryTypeAreValidatedOnEveryWrite() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            _ = try await CustomFieldsTests.defineAll(api, t)
            let good: [String: Any] = [
                "f_text": "  hello  ", "f_number": 42.5, "f_currency": 19.99, "f_date": "2026-03-16", "f_datetime": "2026-03-16T13:00:00+01:00",
                "f_boolean": true, "f_select": "Gold", "f_multi_select": ["Gold", "Bronze", "Gold"], "f_url": "https://example.com/x",
                "f_email": " Someone@Example.COM ", "f_phone": "+1 (415) 555-0100",
            ]
            let c = try await R.create(api, t, "contacts", ["first_name": "Typed", "custom_fields": good])
            let id = c["id"] as? String ?? ""
            let cf = c["custom_fields"] as? [String: Any] ?? [:]
            XCTAssertEqual(cf["f_text"] as? String, "hello")
            XCTAssertEqual(R.num(cf["f_number"]), 42.5)
            XCTAssertEqual(R.num(cf["f_currency"]), 19.99)
            XCTAssertEqual(cf["f_date"] as? String, "2026-03-16")
            XCTAssertEqual(cf["f_datetime"] as? String, "2026-03-16T12:00:00.000Z")
            XCTAssertEqual(cf["f_boolean"] as? Bool, true)
            XCTAssertEqual(cf["f_select"] as? String, "Gold")
            XCTAssertEqual(cf["f_multi_select"] as? [String], ["Gold", "Bronze"])
            XCTAssertEqual(cf["f_url"] as? String, "https://example.com/x")
            XCTAssertEqual(cf["f_email"] as? String, "someone@example.com")
            XCTAssertEqual(cf["f_phone"] as? String, "+14155550100")

            let bad: [(String, Any, String)] = [
                ("f_text", 12, "invalid_type"),
                ("f_text", String(repeating: "t", count: 10_001), "too_long"),
                ("f_number", "42", "invalid_type"),
                ("f_number", true, "invalid_type"),
                ("f_currency", 1.234, "invalid_precision"),
                ("f_currency", "1.00", "invalid_type"),
                ("f_date", "16/03/2026", "invalid_format"),
                ("f_date", "2026-02-30", "invalid_format"),
                ("f_date", "2026-03-16T00:00:00Z", "invalid_format"),
                ("f_datetime", "tomorrow", "invalid_format"),
                ("f_boolean", "true", "invalid_type"),
                ("f_boolean", 1, "invalid_type"),
                ("f_select", "Platinum", "invalid_option"),
                ("f_select", "gold", "invalid_option"),
                ("f_select", ["Gold"], "invalid_type"),
                ("f_multi_select", ["Gold", "Tin"], "invalid_option"),
                ("f_multi_select", "Gold", "invalid_type"),
                ("f_url", "not a url", "invalid_format"),
                ("f_url", "ftp://example.com", "invalid_format"),
                ("f_email", "nobody", "invalid_format"),
                ("f_phone", "no digits", "invalid_format"),
                ("f_phone", "+1234567890123456", "invalid_format"),
                ("nope", "x", "unknown_field"),
            ]
            for (key, value, code) in bad {
                let create = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Bad", "custom_fields": [key: value]])
                R.assertError(create, 422, "validation_failed", field: "custom_fields.\(key)", detailCode: code, "create \(key)=\(value)")
                let patch = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["custom_fields": [key: value]])
                R.assertError(patch, 422, "validation_failed", field: "custom_fields.\(key)", detailCode: code, "patch \(key)=\(value)")
                let batch = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": [
                    ["op": "create", "data": ["first_name": "Bad", "custom_fields": [key: value]]],
                    ["op": "update", "id": id, "data": ["custom_fields": [key: value]]],
                ]])
                XCTAssertEqual(batch.code, 200, batch.text)
                for item in batch.items {
                    XCTAssertEqual(R.int(item["status"]), 422, "batch \(key): \(item)")
                    let details = ((item["error"] as? [String: Any])?["details"] as? [[String: Any]]) ?? []
                    XCTAssertTrue(details.contains { $0["field"] as? String == "custom_fields.\(key)" }, "batch \(key): \(item)")
                }
            }
            R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["custom_fields": ["f_text", "x"]]), 422, "validation_failed",
                          field: "custom_fields", "custom_fields must be an object")
            let unchanged = try await R.get(api, t, "contacts", id)
            XCTAssertEqual(R.int(unchanged["version"]), 1, "no refused write changed the record")
            XCTAssertEqual((unchanged["custom_fields"] as? [String: Any])?.count, 11)
            let contacts = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(contacts.json["total"]), 1)

            // PATCH changes only the keys it names; null removes a value.
            let p = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["custom_fields": ["f_number": 7, "f_text": R.null]])
            XCTAssertEqual(p.code, 200, p.text)
            let pcf = p.data["custom_fields"] as? [String: Any] ?? [:]
            XCTAssertEqual(R.num(pcf["f_number"]), 7)
            XCTAssertNil(pcf["f_text"] as? String)
            XCTAssertEqual(pcf["f_select"] as? String, "Gold")
            let hist = try await R.history(api, t, "contacts", id)
            XCTAssertTrue(hist.contains { $0["field"] as? String == "custom_fields.f_number" && R.num($0["old"]) == 42.5 && R.num($0["new"]) == 7 },
                          "\(hist)")
            // Custom fields of companies are separate from those of contacts.
            let company = try await api.post("/api/v1/companies", token: t, json: ["name": "Acme", "custom_fields": ["f_text": "x"]])
            R.assertError(company, 422, "validation_failed", field: "custom_fields.f_text", detailCode: "unknown_field", "contact key on a company")
            // Notes have no custom fields.
            let note = try await api.post("/api/v1/notes", token: t, json: ["body": "x", "related_to": ["type": "contact", "id": id], "custom_fields": [:]])
            XCTAssertEqual(note.code, 422, note.text)
        }
    }

    func testRequiredFields() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let before = try await R.contact(api, t, ["first_name": "Before"])
            _ = try await R.customField(api, t, key: "region", type: "select", options: ["EMEA", "APAC"], required: true)
            let missing = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "A"])
            R.assertError(missing, 422, "validation_failed", field: "custom_fields.region", detailCode: "required", "missing required")
            let nulled = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "A", "custom_fields": ["region": R.null]])
            R.assertError(nulled, 422, "validation_failed", field: "custom_fields.region", detailCode: "required", "null required")
            let ok = try await R.contact(api, t, ["first_name": "A", "custom_fields": ["region": "EMEA"]])
            R.assertError(try await api.patch("/api/v1/contacts/\(ok)", token: t, json: ["custom_fields": ["region": R.null]]), 422, "validation_failed",
                          field: "custom_fields.region", detailCode: "required", "clearing a required value")
            let other = try await api.patch("/api/v1/contacts/\(ok)", token: t, json: ["title": "CEO"])
            XCTAssertEqual(other.code, 200, other.text)
            let switched = try await api.patch("/api/v1/contacts/\(ok)", token: t, json: ["custom_fields": ["region": "APAC"]])
            XCTAssertEqual((switched.data["custom_fields"] as? [String: Any])?["region"] as? String, "APAC")
            // A record older than the requirement can be given a value.
            let fill = try await api.patch("/api/v1/contacts/\(before)", token: t, json: ["custom_fields": ["region": "EMEA"]])
            XCTAssertEqual(fill.code, 200, fill.text)
            // Batch creates obey it too.
            let batch = try await api.post("/api/v1/contacts/batch", token: t, json: ["operations": [["op": "create", "data": ["first_name": "B"]]]])
            XCTAssertEqual(R.int(batch.items.first?["status"]), 422, batch.text)
            // Relaxing the requirement lets records be created without it.
            let defs = try await api.get("/api/v1/custom-fields?object_type=contact", token: t)
            let defID = R.ids(defs.items).first ?? ""
            let relax = try await api.patch("/api/v1/custom-fields/\(defID)", token: t, json: ["required": false])
            XCTAssertEqual(relax.code, 200, relax.text)
            let now = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Free"])
            XCTAssertEqual(now.code, 201, now.text)
        }
    }

    func testFilterAndSortByCustomFields() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let specs = CustomFieldsTests.specs()
            let ids = try await CustomFieldsTests.seedValues(api, t)
            func set(_ names: String...) -> Set<String> { Set(names.compactMap { ids[$0] }) }
            let cases: [([String: Any], Set<String>)] = [
                (["field": "custom_fields.score", "op": "gt", "value": 5], set("a", "c", "f")),
                (["field": "custom_fields.score", "op": "eq", "value": 10], set("a", "f")),
                (["field": "custom_fields.score", "op": "lte", "value": 2.5], set("b", "d")),
                (["field": "custom_fields.score", "op": "between", "value": [0, 10]], set("a", "b", "f")),
                (["field": "custom_fields.score", "op": "is_null", "value": true], set("e")),
                (["field": "custom_fields.score", "op": "in", "value": [30, -1]], set("c", "d")),
                (["field": "custom_fields.f_select", "op": "eq", "value": "gold"], set("a", "c")),
                (["field": "custom_fields.f_select", "op": "in", "value": ["Silver", "Bronze"]], set("b", "f")),
                (["field": "custom_fields.f_select", "op": "neq", "value": "Gold"], set("b", "d", "e", "f")),
                (["field": "custom_fields.f_multi_select", "op": "eq", "value": "Silver"], set("a", "d")),
                (["field": "custom_fields.f_multi_select", "op": "in", "value": ["Bronze", "Gold"]], set("a", "b")),
                (["field": "custom_fields.f_multi_select", "op": "nin", "value": ["Silver"]], set("b", "c", "e", "f")),
                (["field": "custom_fields.f_multi_select", "op": "is_null", "value": true], set("c", "e", "f")),
                (["field": "custom_fields.f_boolean", "op": "eq", "value": true], set("a", "c")),
                (["field": "custom_fields.f_boolean", "op": "eq", "value": false], set("b")),
                (["field": "custom_fields.f_date", "op": "between", "value": ["2026-01-01", "2026-01-31"]], set("a")),
                (["field": "custom_fields.f_date", "op": "lt", "value": "2026-01-01"], set("c")),
                (["field": "custom_fields.f_datetime", "op": "gte", "value": "2026-01-15T09:00:00Z"], set("a")),
                (["field": "custom_fields.f_text", "op": "contains", "value": "CENTAUR"], set("a")),
                (["field": "custom_fields.f_text", "op": "starts_with", "value": "g"], set("d")),
                (["field": "custom_fields.f_text", "op": "eq", "value": "BETA"], set("b")),
                (["field": "custom_fields.f_currency", "op": "gte", "value": 50], set("a")),
                (["and": [["field": "custom_fields.score", "op": "gte", "value": 10], ["field": "custom_fields.f_select", "op": "eq", "value": "Gold"]]],
                 set("a", "c")),
            ]
            for (filter, expected) in cases {
                let got = try await R.searchIDs(api, t, "contacts", filter)
                XCTAssertEqual(got, expected, "\(filter)")
            }
            // Type mismatches on custom fields are 422.
            for filter: [String: Any] in [["field": "custom_fields.score", "op": "eq", "value": "ten"],
                                          ["field": "custom_fields.f_boolean", "op": "eq", "value": "yes"],
                                          ["field": "custom_fields.f_date", "op": "eq", "value": "Jan 1"],
                                          ["field": "custom_fields.score", "op": "contains", "value": "1"],
                                          ["field": "custom_fields.f_text", "op": "last_n_days", "value": 3],
                                          ["field": "custom_fields.nope", "op": "eq", "value": 1]] {
                let r = try await R.search(api, t, "contacts", filter)
                R.assertError(r, 422, "validation_failed", "\(filter)")
            }
            // Sorting by a number field: numeric order, NULLs last both ways, exact pagination.
            let scores: [(id: String, key: String?)] = specs.map { name, cf in
                (ids[name]!, R.num(cf["score"]).map { String(format: "%012.3f", $0 + 1000) })
            }
            for (sort, desc) in [("custom_fields.score", false), ("-custom_fields.score", true)] {
                let expected = R.expectedOrder(scores, descending: desc)
                let full = try await R.search(api, t, "contacts", ["field": "id", "op": "is_null", "value": false], sort: sort)
                XCTAssertEqual(full.code, 200, full.text)
                XCTAssertEqual(R.ids(full.items), expected, sort)
                let paged = try await R.collectSearch(api, t, "contacts", ["sort": [sort]], limit: 2)
                XCTAssertEqual(paged, expected, "\(sort) paged")
            }
            // Text sorts case-insensitively.
            let texts: [(id: String, key: String?)] = specs.map { name, cf in (ids[name]!, (cf["f_text"] as? String)?.lowercased()) }
            let textOrder = try await R.collectSearch(api, t, "contacts", ["sort": ["custom_fields.f_text"]], limit: 2)
            XCTAssertEqual(textOrder, R.expectedOrder(texts, descending: false))
            // List endpoints sort by custom fields too.
            let listSorted = try await R.collect(api, t, "/api/v1/contacts?sort=-custom_fields.score", limit: 4)
            XCTAssertEqual(listSorted.ids, R.expectedOrder(scores, descending: true))
        }
    }

    func testNotOnACustomFieldIncludesRecordsWithoutAValue() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let ids = try await CustomFieldsTests.seedValues(api, t)
            let inner: [String: Any] = ["field": "custom_fields.f_boolean", "op": "eq", "value": true]
            let matched = try await R.searchIDs(api, t, "contacts", inner)
            XCTAssertEqual(matched, Set(["a", "c"].compactMap { ids[$0] }))
            let negated = try await R.searchIDs(api, t, "contacts", ["not": inner])
            XCTAssertEqual(negated, Set(ids.values).subtracting(matched), "not(f_boolean eq true) must be the complement, records without a value included")
        }
    }

    func testSortingByAMultiSelectIsRefusedOrPagesExactly() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            _ = try await CustomFieldsTests.seedValues(api, t)
            let multi = try await api.post("/api/v1/contacts/search", token: t, json: ["sort": ["custom_fields.f_multi_select"], "limit": 200])
            if multi.code == 200 {
                let full = R.ids(multi.items)
                XCTAssertEqual(full.count, 6)
                let paged = try await R.collectSearch(api, t, "contacts", ["sort": ["custom_fields.f_multi_select"]], limit: 1)
                XCTAssertEqual(paged, full, "sorting by a multi_select must page without repeats or skips")
                let listed = try await R.collect(api, t, "/api/v1/contacts?sort=-custom_fields.f_multi_select", limit: 2)
                XCTAssertEqual(Set(listed.ids).count, 6, "every record once: \(listed.ids)")
                XCTAssertEqual(listed.ids.count, 6)
            } else {
                XCTAssertEqual(multi.code, 422, multi.text)
            }
        }
    }

    func testDeletingADefinitionRemovesItsValues() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.admin.accessToken
            let def = try await R.customField(api, t, key: "legacy_id", type: "text")
            let keep = try await R.customField(api, t, key: "keep_me", type: "number")
            let companyDef = try await R.customField(api, t, objectType: "company", key: "legacy_id", type: "text")
            let a = try await R.contact(api, t, ["first_name": "A", "custom_fields": ["legacy_id": "L-1", "keep_me": 1]])
            let b = try await R.contact(api, t, ["first_name": "B", "custom_fields": ["legacy_id": "L-2"]])
            let deleted = try await R.contact(api, t, ["first_name": "D", "custom_fields": ["legacy_id": "L-3"]])
            try await R.delete(api, t, "contacts", deleted)
            let com = try await R.company(api, t, ["name": "Acme", "custom_fields": ["legacy_id": "C-1"]])
            let historyBefore = try await R.history(api, t, "contacts", a).count

            let del = try await api.delete("/api/v1/custom-fields/\(def)", token: t)
            XCTAssertEqual(del.code, 204, del.text)
            let aNow = try await R.get(api, t, "contacts", a)
            let cf = aNow["custom_fields"] as? [String: Any] ?? [:]
            XCTAssertNil(cf["legacy_id"], "the value is gone: \(cf)")
            XCTAssertEqual(R.num(cf["keep_me"]), 1, "other values stay")
            let bNow = try await R.get(api, t, "contacts", b)
            XCTAssertEqual((bNow["custom_fields"] as? [String: Any])?.count, 0)
            let dNow = try await api.get("/api/v1/contacts/\(deleted)?include_deleted=true", token: t)
            XCTAssertNil((dNow.data["custom_fields"] as? [String: Any])?["legacy_id"], "deleted records lose the value too: \(dNow.text)")
            // The company field of the same key is a different definition and keeps its value.
            let comNow = try await R.get(api, t, "companies", com)
            XCTAssertEqual((comNow["custom_fields"] as? [String: Any])?["legacy_id"] as? String, "C-1")
            XCTAssertFalse(companyDef.isEmpty)
            // No history row per record; one audit entry.
            let historyAfter = try await R.history(api, t, "contacts", a).count
            XCTAssertEqual(historyAfter, historyBefore)
            let audits = try await R.audit(api, team.owner.accessToken, "action=custom_field.deleted")
            XCTAssertEqual(audits.count, 1)
            XCTAssertEqual(audits.first?["object_id"] as? String, def)
            // The key can no longer be written, filtered or sorted on.
            R.assertError(try await api.patch("/api/v1/contacts/\(a)", token: t, json: ["custom_fields": ["legacy_id": "again"]]), 422, "validation_failed",
                          field: "custom_fields.legacy_id", detailCode: "unknown_field", "write a deleted key")
            R.assertError(try await R.search(api, t, "contacts", ["field": "custom_fields.legacy_id", "op": "eq", "value": "L-1"]), 422,
                          "validation_failed", "filter on a deleted key")
            R.assertError(try await api.get("/api/v1/contacts?sort=custom_fields.legacy_id", token: t), 400, "bad_request", "sort on a deleted key")
            // Re-creating the key does not bring the old values back.
            _ = try await R.customField(api, t, key: "legacy_id", type: "text")
            let aAgain = try await R.get(api, t, "contacts", a)
            XCTAssertNil((aAgain["custom_fields"] as? [String: Any])?["legacy_id"])
            let found = try await R.searchIDs(api, t, "contacts", ["field": "custom_fields.legacy_id", "op": "is_null", "value": false])
            XCTAssertTrue(found.isEmpty)
            XCTAssertFalse(keep.isEmpty)
        }
    }

    func testDefinitionsAreScopedToTheWorkspace() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await api.signup(email: "a@example.com", workspace: "A")
            let b = try await api.signup(email: "b@example.com", workspace: "B")
            let def = try await R.customField(api, a.accessToken, key: "secret_score", type: "number")
            R.assertError(try await api.get("/api/v1/custom-fields/\(def)", token: b.accessToken), 404, "not_found", "GET")
            R.assertError(try await api.patch("/api/v1/custom-fields/\(def)", token: b.accessToken, json: ["label": "mine"]), 404, "not_found", "PATCH")
            R.assertError(try await api.delete("/api/v1/custom-fields/\(def)", token: b.accessToken), 404, "not_found", "DELETE")
            let list = try await api.get("/api/v1/custom-fields", token: b.accessToken)
            XCTAssertTrue(list.items.isEmpty, list.text)
            let use = try await api.post("/api/v1/contacts", token: b.accessToken, json: ["first_name": "X", "custom_fields": ["secret_score": 1]])
            R.assertError(use, 422, "validation_failed", field: "custom_fields.secret_score", detailCode: "unknown_field", "A's key in B")
            // B may define the same key independently.
            let mine = try await api.post("/api/v1/custom-fields", token: b.accessToken, json: ["object_type": "contact", "key": "secret_score", "type": "text"])
            XCTAssertEqual(mine.code, 201, mine.text)
            let still = try await api.get("/api/v1/custom-fields/\(def)", token: a.accessToken)
            XCTAssertEqual(still.data["type"] as? String, "number")
            XCTAssertEqual(R.int(still.data["version"]), 1)
        }
    }
}
