import Foundation
import KeelCore
import XCTest

// MARK: - Shared helpers for the record test files
// (ContactsTests, CompaniesTests, CustomFieldsTests, NotesAndTagsTests, SearchFilterTests, BatchTests, MergeTests,
//  VisibilityTests, RecordIsolationTests)

/// A workspace with one member of every role.
struct Team: Sendable {
    let owner: Session
    let admin: Session
    let member: Session
    let member2: Session
    let viewer: Session
    let ownerID: String
    let adminID: String
    let memberID: String
    let member2ID: String
    let viewerID: String
}

enum RecordFixtures {
    typealias F = IdentityFixtures

    static let null = NSNull()

    // MARK: Creating records

    /// Creates a record and asserts 201; returns its JSON.
    @discardableResult
    static func create(_ api: API, _ token: String, _ objects: String, _ body: [String: Any],
                       file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Any] {
        let r = try await api.post("/api/v1/\(objects)", token: token, json: body)
        XCTAssertEqual(r.code, 201, "create \(objects): \(r.text)", file: file, line: line)
        return r.data
    }

    /// Creates a contact and returns its id.
    static func contact(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        try await create(api, token, "contacts", body, file: file, line: line)["id"] as? String ?? ""
    }

    static func company(_ api: API, _ token: String, _ body: [String: Any], file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        try await create(api, token, "companies", body, file: file, line: line)["id"] as? String ?? ""
    }

    static func note(_ api: API, _ token: String, type: String, id: String, body: String = "A note", pinned: Bool? = nil,
                     file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        var json: [String: Any] = ["body": body, "related_to": ["type": type, "id": id]]
        if let pinned { json["pinned"] = pinned }
        return try await create(api, token, "notes", json, file: file, line: line)["id"] as? String ?? ""
    }

    static func customField(_ api: API, _ token: String, objectType: String = "contact", key: String, type: String,
                            options: [String]? = nil, required: Bool? = nil, file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        var body: [String: Any] = ["object_type": objectType, "key": key, "label": key.capitalized, "type": type]
        if let options { body["options"] = options }
        if let required { body["required"] = required }
        return try await create(api, token, "custom-fields", body, file: file, line: line)["id"] as? String ?? ""
    }

    /// GET one record (asserting 200).
    static func get(_ api: API, _ token: String, _ objects: String, _ id: String, file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Any] {
        let r = try await api.get("/api/v1/\(objects)/\(id)", token: token)
        XCTAssertEqual(r.code, 200, "GET \(objects)/\(id): \(r.text)", file: file, line: line)
        return r.data
    }

    /// DELETE one record (asserting 204).
    static func delete(_ api: API, _ token: String, _ objects: String, _ id: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let r = try await api.delete("/api/v1/\(objects)/\(id)", token: token)
        XCTAssertEqual(r.code, 204, "DELETE \(objects)/\(id): \(r.text)", file: file, line: line)
    }

    // MARK: Teams and workspaces

    static func team(_ api: API) async throws -> Team {
        let owner = try await api.signup()
        let admin = try await api.addMember(owner.accessToken, email: "admin@example.com", role: "admin")
        let member = try await api.addMember(owner.accessToken, email: "member@example.com", role: "member")
        let member2 = try await api.addMember(owner.accessToken, email: "member2@example.com", role: "member")
        let viewer = try await api.addMember(owner.accessToken, email: "viewer@example.com", role: "viewer")
        return Team(owner: owner, admin: admin, member: member, member2: member2, viewer: viewer,
                    ownerID: try await F.userID(api, owner.accessToken), adminID: try await F.userID(api, admin.accessToken),
                    memberID: try await F.userID(api, member.accessToken), member2ID: try await F.userID(api, member2.accessToken),
                    viewerID: try await F.userID(api, viewer.accessToken))
    }

    // MARK: Reading responses

    static func num(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }
    static func int(_ v: Any?) -> Int? { (v as? NSNumber)?.intValue }
    static func ids(_ items: [[String: Any]]) -> [String] { items.compactMap { $0["id"] as? String } }
    static func isNull(_ v: Any?) -> Bool { v == nil || v is NSNull }
    static func q(_ s: String) -> String { F.q(s) }
    static func fakeID(_ prefix: String) -> String { prefix + "_" + ULID.make() }

    static func detail(_ r: TestResponse, _ field: String) -> [String: Any]? {
        r.errorDetails.first { $0["field"] as? String == field }
    }

    static func detailFields(_ r: TestResponse) -> [String] { r.errorDetails.compactMap { $0["field"] as? String } }

    /// Asserts an error status, code and (optionally) a detail naming `field` (with `detailCode`).
    static func assertError(_ r: TestResponse, _ status: Int, _ code: String, field: String? = nil, detailCode: String? = nil,
                            _ label: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.code, status, "\(label): \(r.text)", file: file, line: line)
        XCTAssertEqual(r.errorCode, code, "\(label): \(r.text)", file: file, line: line)
        XCTAssertFalse(r.text.contains("SELECT") || r.text.contains("sqlite") || r.text.contains("Fatal"), "\(label) leaks internals: \(r.text)",
                       file: file, line: line)
        if let field {
            let d = detail(r, field)
            XCTAssertNotNil(d, "\(label): expected a detail for \(field): \(r.text)", file: file, line: line)
            if let detailCode { XCTAssertEqual(d?["code"] as? String, detailCode, "\(label): \(r.text)", file: file, line: line) }
        }
    }

    static func history(_ api: API, _ token: String, _ objects: String, _ id: String) async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/\(objects)/\(id)/history?limit=200", token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r.items
    }

    static func audit(_ api: API, _ token: String, _ query: String) async throws -> [[String: Any]] {
        let r = try await api.get("/api/v1/audit/logs?limit=200&\(query)", token: token)
        XCTAssertEqual(r.code, 200, r.text)
        return r.items
    }

    // MARK: Paging

    /// Follows `next_cursor` through a GET list; returns every id in order and the number of pages.
    static func collect(_ api: API, _ token: String, _ path: String, limit: Int, file: StaticString = #filePath,
                        line: UInt = #line) async throws -> (ids: [String], pages: Int) {
        var out: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            var p = path + (path.contains("?") ? "&" : "?") + "limit=\(limit)"
            if let cursor { p += "&cursor=\(q(cursor))" }
            let r = try await api.get(p, token: token)
            XCTAssertEqual(r.code, 200, "\(p): \(r.text)", file: file, line: line)
            guard r.code == 200 else { break }
            XCTAssertLessThanOrEqual(r.items.count, limit, file: file, line: line)
            out += ids(r.items)
            pages += 1
            cursor = F.nextCursor(r)
            XCTAssertEqual(F.hasMore(r), cursor != nil, "has_more must agree with next_cursor: \(r.text)", file: file, line: line)
            XCTAssertTrue(r.json.keys.contains("next_cursor"), "next_cursor must be present (null on the last page)", file: file, line: line)
        } while cursor != nil && pages < 200
        return (out, pages)
    }

    /// Follows `next_cursor` through a search.
    static func collectSearch(_ api: API, _ token: String, _ objects: String, _ body: [String: Any], limit: Int,
                              file: StaticString = #filePath, line: UInt = #line) async throws -> [String] {
        var out: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            var b = body
            b["limit"] = limit
            if let cursor { b["cursor"] = cursor }
            let r = try await api.post("/api/v1/\(objects)/search", token: token, json: b)
            XCTAssertEqual(r.code, 200, "search: \(r.text)", file: file, line: line)
            guard r.code == 200 else { break }
            out += ids(r.items)
            pages += 1
            cursor = F.nextCursor(r)
        } while cursor != nil && pages < 200
        return out
    }

    /// Expected order of `(id, key)` pairs: key ascending or descending, NULLs last in both directions, then id in the same direction.
    static func expectedOrder(_ rows: [(id: String, key: String?)], descending: Bool) -> [String] {
        rows.sorted { a, b in
            switch (a.key, b.key) {
            case (nil, nil): return descending ? a.id > b.id : a.id < b.id
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?):
                if x != y { return descending ? x > y : x < y }
                return descending ? a.id > b.id : a.id < b.id
            }
        }.map(\.id)
    }

    static func search(_ api: API, _ token: String, _ objects: String, _ filter: Any, sort: String? = nil, extra: [String: Any] = [:]) async throws -> TestResponse {
        var body: [String: Any] = ["filter": filter, "limit": 200]
        if let sort { body["sort"] = [sort] }
        for (k, v) in extra { body[k] = v }
        return try await api.post("/api/v1/\(objects)/search", token: token, json: body)
    }

    static func searchIDs(_ api: API, _ token: String, _ objects: String, _ filter: Any, file: StaticString = #filePath, line: UInt = #line) async throws -> Set<String> {
        let r = try await search(api, token, objects, filter)
        XCTAssertEqual(r.code, 200, "search \(filter): \(r.text)", file: file, line: line)
        return Set(ids(r.items))
    }

    static func listIDs(_ api: API, _ token: String, _ path: String, file: StaticString = #filePath, line: UInt = #line) async throws -> Set<String> {
        let r = try await api.get(path + (path.contains("?") ? "&" : "?") + "limit=200", token: token)
        XCTAssertEqual(r.code, 200, "\(path): \(r.text)", file: file, line: line)
        return Set(ids(r.items))
    }
}

// MARK: - Contacts

final class ContactsTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    func testCreateNormalisesAndAnswers201WithLocationAndETag() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let me = try await F.userID(api, s.accessToken)
            let r = try await api.post("/api/v1/contacts", token: s.accessToken, json: [
                "first_name": "  Grace ", "last_name": "\tHopper\n", "email": "  Grace.Hopper@NAVY.mil ", "phone": "0044 20 7946 0958",
                "title": " Rear Admiral ", "lifecycle_stage": "customer", "source": " conference ",
                "address": ["line1": " 1 Main St ", "city": "Arlington", "country": "US", "line2": ""],
            ])
            XCTAssertEqual(r.code, 201, r.text)
            let c = r.data
            let id = c["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("con_"), id)
            XCTAssertEqual(r.header("Location"), "/api/v1/contacts/\(id)")
            XCTAssertEqual(r.header("ETag"), "\"1\"")
            XCTAssertEqual(c["first_name"] as? String, "Grace")
            XCTAssertEqual(c["last_name"] as? String, "Hopper")
            XCTAssertEqual(c["display_name"] as? String, "Grace Hopper")
            XCTAssertEqual(c["email"] as? String, "grace.hopper@navy.mil")
            XCTAssertEqual(c["phone"] as? String, "+442079460958")
            XCTAssertEqual(c["title"] as? String, "Rear Admiral")
            XCTAssertEqual(c["source"] as? String, "conference")
            XCTAssertEqual(c["lifecycle_stage"] as? String, "customer")
            let address = c["address"] as? [String: Any]
            XCTAssertEqual(address?["line1"] as? String, "1 Main St")
            XCTAssertNil(address?["line2"] as? String, "empty address parts are dropped")
            XCTAssertEqual(c["owner_id"] as? String, me, "the creator owns the record by default")
            XCTAssertEqual(c["created_by"] as? String, me)
            XCTAssertEqual(c["visibility"] as? String, "workspace")
            XCTAssertEqual(c["email_opt_out"] as? Bool, false)
            XCTAssertEqual(R.int(c["version"]), 1)
            XCTAssertEqual(c["tags"] as? [String], [])
            XCTAssertEqual((c["custom_fields"] as? [String: Any])?.count, 0)
            XCTAssertTrue(R.isNull(c["deleted_at"]))
            XCTAssertTrue(R.isNull(c["company_id"]))
            XCTAssertTrue(R.isNull(c["merged_into"]))
            for key in ["created_at", "updated_at"] {
                let v = c[key] as? String ?? ""
                XCTAssertNotNil(v.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression), "\(key)=\(v)")
            }
            // GET returns the same record with its ETag.
            let g = try await api.get("/api/v1/contacts/\(id)", token: s.accessToken)
            XCTAssertEqual(g.code, 200, g.text)
            XCTAssertEqual(g.header("ETag"), "\"1\"")
            XCTAssertEqual(g.data["email"] as? String, "grace.hopper@navy.mil")

            // display_name falls back to the e-mail when there is no name.
            let onlyEmail = try await R.create(api, s.accessToken, "contacts", ["email": "solo@example.com"])
            XCTAssertEqual(onlyEmail["display_name"] as? String, "solo@example.com")
            XCTAssertTrue(R.isNull(onlyEmail["first_name"]))
        }
    }

    func testPhoneNormalisationRules() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let accepted: [(String, String)] = [
                ("+1 (415) 555-0100", "+14155550100"),
                ("0044 20 7946 0958", "+442079460958"),
                ("+44.20.7946.0958", "+442079460958"),
                ("+123456789012345", "+123456789012345"),   // 15 digits
                ("555-0100", "555-0100"),                    // no + / 00: kept trimmed as given
                ("  12345  ", "12345"),
                ("+1234567", "+1234567"),                    // too short for E.164: kept as given
            ]
            for (i, (raw, stored)) in accepted.enumerated() {
                let r = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "P\(i)", "phone": raw])
                XCTAssertEqual(r.code, 201, "\(raw): \(r.text)")
                XCTAssertEqual(r.data["phone"] as? String, stored, raw)
            }
            let rejected = ["no digits here", "---", "()", "+", "+1234567890123456", "12345678901234567", "+44 (0) 20 7946 0958 1234 5"]
            for raw in rejected {
                let r = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Bad", "phone": raw])
                R.assertError(r, 422, "validation_failed", field: "phone", detailCode: "invalid_format", "phone \(raw)")
            }
            // The same rules on PATCH; nothing is written when refused.
            let id = try await R.contact(api, t, ["first_name": "Patchy", "phone": "+14155550100"])
            let bad = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["phone": "+1234567890123456"])
            R.assertError(bad, 422, "validation_failed", field: "phone", "patch phone")
            let after = try await R.get(api, t, "contacts", id)
            XCTAssertEqual(after["phone"] as? String, "+14155550100")
            XCTAssertEqual(R.int(after["version"]), 1)
        }
    }

    func testValidationErrorsNameTheField() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            for email in ["not-an-email", "a@b", "a b@example.com", "@example.com", "ada@", "ada@@example.com", "ada@exa_mple.com"] {
                let r = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada", "email": email])
                R.assertError(r, 422, "validation_failed", field: "email", detailCode: "invalid_format", "email \(email)")
            }
            let long = String(repeating: "x", count: 300)
            for field in ["first_name", "last_name", "title"] {
                var body: [String: Any] = ["email": "long-\(field)@example.com"]
                body[field] = long
                let r = try await api.post("/api/v1/contacts", token: t, json: body)
                R.assertError(r, 422, "validation_failed", field: field, detailCode: "too_long", "300 chars in \(field)")
            }
            // 200 characters is the limit and is accepted.
            let exactly200 = try await api.post("/api/v1/contacts", token: t, json: ["first_name": String(repeating: "y", count: 200)])
            XCTAssertEqual(exactly200.code, 201, exactly200.text)
            // Empty names and no e-mail: nothing identifies the person.
            for body in [[String: Any](), ["first_name": ""], ["first_name": "   ", "last_name": "\n"], ["title": "CEO"]] {
                let r = try await api.post("/api/v1/contacts", token: t, json: body)
                XCTAssertEqual(r.code, 422, "\(body): \(r.text)")
                XCTAssertEqual(r.errorCode, "validation_failed")
                XCTAssertFalse(r.errorDetails.isEmpty, r.text)
            }
            let cases: [([String: Any], String, String?)] = [
                (["first_name": "A", "lifecycle_stage": "vip"], "lifecycle_stage", "invalid_value"),
                (["first_name": "A", "visibility": "secret"], "visibility", "invalid_value"),
                (["first_name": "A", "visibility": R.null], "visibility", "not_nullable"),
                (["first_name": "A", "email_opt_out": "yes"], "email_opt_out", "invalid_type"),
                (["first_name": "A", "email": 42], "email", "invalid_type"),
                (["first_name": 7], "first_name", "invalid_type"),
                (["first_name": "A", "address": ["zip": "12345"]], "address.zip", "unknown_field"),
                (["first_name": "A", "address": "Main St"], "address", "invalid_type"),
                (["first_name": "A", "nickname": "Al"], "nickname", "unknown_field"),
                (["first_name": "A", "display_name": "Someone"], "display_name", "unknown_field"),
                (["first_name": "A", "id": R.fakeID("con")], "id", "unknown_field"),
                (["first_name": "A", "version": 3], "version", "unknown_field"),
                (["first_name": "A", "owner_id": R.fakeID("usr")], "owner_id", "not_found"),
                (["first_name": "A", "owner_id": "not-an-id"], "owner_id", "not_found"),
                (["first_name": "A", "company_id": R.fakeID("com")], "company_id", "not_found"),
                (["first_name": "A", "company_id": R.fakeID("con")], "company_id", "not_found"),
                (["first_name": "A", "tags": "vip"], "tags", "invalid_type"),
                (["first_name": "A", "custom_fields": ["nope": 1]], "custom_fields.nope", "unknown_field"),
            ]
            for (body, field, code) in cases {
                let r = try await api.post("/api/v1/contacts", token: t, json: body)
                R.assertError(r, 422, "validation_failed", field: field, detailCode: code, "\(body)")
            }
            // Several problems are reported at once.
            let many = try await api.post("/api/v1/contacts", token: t, json: ["first_name": long, "email": "bad", "phone": "nope"])
            XCTAssertEqual(many.code, 422, many.text)
            XCTAssertEqual(Set(R.detailFields(many)), ["first_name", "email", "phone"], many.text)
            // A company that was deleted is not a valid company_id.
            let com = try await R.company(api, t, ["name": "Gone Inc"])
            let del = try await api.delete("/api/v1/companies/\(com)", token: t)
            XCTAssertEqual(del.code, 204)
            let r = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "A", "company_id": com])
            R.assertError(r, 422, "validation_failed", field: "company_id", detailCode: "not_found", "deleted company")
            // Malformed JSON, a non-object body and a non-JSON body.
            let malformed = try await api.send(.post, "/api/v1/contacts", token: t, raw: "{\"first_name\": ")
            R.assertError(malformed, 400, "bad_request", "malformed JSON")
            let array = try await api.post("/api/v1/contacts", token: t, json: [["first_name": "A"]])
            XCTAssertEqual(array.code, 422, array.text)
            let text = try await api.send(.post, "/api/v1/contacts", token: t, raw: "first_name=A", contentType: "text/plain")
            R.assertError(text, 415, "unsupported_media_type", "text body")
            // None of the refused requests created anything: only the 200-character contact and the deleted company exist.
            let list = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(list.json["total"]), 1, list.text)
        }
    }

    func testEmailIsUniqueAmongLiveContacts() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let first = try await R.contact(api, t, ["first_name": "Ada", "email": "ada@example.com"])
            for variant in ["ada@example.com", "ADA@Example.COM", "  ada@example.com  "] {
                let dup = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Other", "email": variant])
                R.assertError(dup, 409, "duplicate", field: "email", variant)
                XCTAssertEqual(R.detail(dup, "email")?["existing_id"] as? String, first, dup.text)
            }
            // PATCHing another contact onto that e-mail clashes too; its own e-mail in another case is no change.
            let second = try await R.contact(api, t, ["first_name": "Bea", "email": "bea@example.com"])
            let clash = try await api.patch("/api/v1/contacts/\(second)", token: t, json: ["email": "ADA@example.com"])
            R.assertError(clash, 409, "duplicate", field: "email", "patch onto another's email")
            XCTAssertEqual(R.detail(clash, "email")?["existing_id"] as? String, first)
            let same = try await api.patch("/api/v1/contacts/\(second)", token: t, json: ["email": " BEA@EXAMPLE.COM"])
            XCTAssertEqual(same.code, 200, same.text)
            XCTAssertEqual(R.int(same.data["version"]), 1, "an unchanged normalised value is not a change")
            // Contacts without e-mail never clash.
            _ = try await R.contact(api, t, ["first_name": "No Mail 1"])
            _ = try await R.contact(api, t, ["first_name": "No Mail 2"])
            // Deleting frees the address.
            let del = try await api.delete("/api/v1/contacts/\(first)", token: t)
            XCTAssertEqual(del.code, 204)
            let reuse = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada II", "email": "ada@example.com"])
            XCTAssertEqual(reuse.code, 201, reuse.text)
            XCTAssertNotEqual(reuse.data["id"] as? String, first)
        }
    }

    func testRestoringIntoATakenEmailIsADuplicate() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let first = try await R.contact(api, t, ["first_name": "Ada", "email": "ada@example.com"])
            try await R.delete(api, t, "contacts", first)
            let reuseID = try await R.contact(api, t, ["first_name": "Ada II", "email": "ada@example.com"])
            // Restoring the old one would make two live contacts with one address: a unique-value clash (§7: 409 duplicate).
            let restore = try await api.post("/api/v1/contacts/\(first)/restore", token: t)
            XCTAssertEqual(restore.code, 409, restore.text)
            XCTAssertEqual(restore.errorCode, "duplicate", "api.md §7: `duplicate` is the 409 code for a unique-value clash: \(restore.text)")
            XCTAssertEqual(restore.errorDetails.first?["existing_id"] as? String, reuseID, restore.text)
            let stillDeleted = try await api.get("/api/v1/contacts/\(first)", token: t)
            XCTAssertEqual(stillDeleted.code, 404)
        }
    }

    func testPatchIsPartialNullClearsAndVersionsAreEnforced() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let id = try await R.contact(api, t, ["first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+442079460958",
                                                 "title": "Countess", "address": ["city": "London"]])
            let p1 = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Analyst"])
            XCTAssertEqual(p1.code, 200, p1.text)
            XCTAssertEqual(R.int(p1.data["version"]), 2)
            XCTAssertEqual(p1.header("ETag"), "\"2\"")
            XCTAssertEqual(p1.data["title"] as? String, "Analyst")
            XCTAssertEqual(p1.data["email"] as? String, "ada@example.com", "fields not in the body are untouched")
            XCTAssertEqual(p1.data["phone"] as? String, "+442079460958")
            XCTAssertEqual((p1.data["address"] as? [String: Any])?["city"] as? String, "London")
            XCTAssertGreaterThanOrEqual(p1.data["updated_at"] as? String ?? "", p1.data["created_at"] as? String ?? "")

            // null clears nullable fields.
            let p2 = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["phone": R.null, "address": R.null, "title": R.null])
            XCTAssertEqual(p2.code, 200, p2.text)
            XCTAssertTrue(R.isNull(p2.data["phone"]))
            XCTAssertTrue(R.isNull(p2.data["address"]))
            XCTAssertTrue(R.isNull(p2.data["title"]))
            XCTAssertEqual(R.int(p2.data["version"]), 3)
            // Renaming re-derives display_name.
            let p3 = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["first_name": "Augusta Ada", "version": 3])
            XCTAssertEqual(p3.code, 200, p3.text)
            XCTAssertEqual(p3.data["display_name"] as? String, "Augusta Ada Lovelace")
            XCTAssertEqual(R.int(p3.data["version"]), 4)

            // Stale versions, by body and by If-Match: 409 version_conflict and nothing written.
            let historyBefore = try await R.history(api, t, "contacts", id).count
            let staleBody = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Stale", "version": 2])
            R.assertError(staleBody, 409, "version_conflict", "stale body version")
            let staleHeader = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Stale"], headers: ["If-Match": "\"3\""])
            R.assertError(staleHeader, 409, "version_conflict", "stale If-Match")
            let future = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Stale"], headers: ["If-Match": "\"99\""])
            R.assertError(future, 409, "version_conflict", "future If-Match")
            let unchanged = try await R.get(api, t, "contacts", id)
            XCTAssertTrue(R.isNull(unchanged["title"]), "a refused PATCH must not write")
            XCTAssertEqual(R.int(unchanged["version"]), 4)
            let historyAfter = try await R.history(api, t, "contacts", id).count
            XCTAssertEqual(historyAfter, historyBefore, "a refused PATCH must not add history")
            let updatedAudits = try await R.audit(api, t, "action=contact.updated&object_id=\(id)")
            XCTAssertEqual(updatedAudits.count, 3, "three successful PATCHes, no audit for refused ones")

            // A current If-Match works; a malformed one is a bad request.
            let current = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Fresh"], headers: ["If-Match": "\"4\""])
            XCTAssertEqual(current.code, 200, current.text)
            XCTAssertEqual(R.int(current.data["version"]), 5)
            let malformed = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "X"], headers: ["If-Match": "banana"])
            R.assertError(malformed, 400, "bad_request", "malformed If-Match")
            let badVersion = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "X", "version": "five"])
            XCTAssertEqual(badVersion.code, 422, badVersion.text)

            // An empty PATCH or one that changes nothing keeps the version.
            let empty = try await api.patch("/api/v1/contacts/\(id)", token: t, json: [String: Any]())
            XCTAssertEqual(empty.code, 200, empty.text)
            XCTAssertEqual(R.int(empty.data["version"]), 5)
            let same = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": " Fresh "])
            XCTAssertEqual(R.int(same.data["version"]), 5, same.text)

            // Refusals: read-only and unknown keys, clearing every identifying field, a 300-character name.
            R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["display_name": "X"]), 422, "validation_failed",
                          field: "display_name", "read-only display_name")
            R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["created_at": "2020-01-01T00:00:00Z"]), 422,
                          "validation_failed", field: "created_at", "read-only created_at")
            R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["favourite_colour": "red"]), 422, "validation_failed",
                          field: "favourite_colour", "unknown key")
            R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["first_name": String(repeating: "n", count: 300)]), 422,
                          "validation_failed", field: "first_name", detailCode: "too_long", "300 chars")
            let clearAll = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["first_name": R.null, "last_name": "", "email": R.null])
            XCTAssertEqual(clearAll.code, 422, clearAll.text)
            let final = try await R.get(api, t, "contacts", id)
            XCTAssertEqual(final["first_name"] as? String, "Augusta Ada")
            XCTAssertEqual(R.int(final["version"]), 5)

            // Unknown ids and ids of the wrong kind are 404.
            R.assertError(try await api.patch("/api/v1/contacts/\(R.fakeID("con"))", token: t, json: ["title": "X"]), 404, "not_found", "unknown id")
            R.assertError(try await api.patch("/api/v1/contacts/\(R.fakeID("com"))", token: t, json: ["title": "X"]), 404, "not_found", "wrong prefix")
            R.assertError(try await api.get("/api/v1/contacts/con_123", token: t), 404, "not_found", "malformed id")
            R.assertError(try await api.get("/api/v1/contacts/%27%20OR%201%3D1%20--", token: t), 404, "not_found", "sql id")
        }
    }

    func testSoftDeleteAndRestore() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.member.accessToken
            let id = try await R.contact(api, t, ["first_name": "Temp", "email": "temp@example.com"])
            let keep = try await R.contact(api, t, ["first_name": "Keep"])

            // Restoring a record that was never deleted answers 200 with it unchanged.
            let noop = try await api.post("/api/v1/contacts/\(id)/restore", token: t)
            XCTAssertEqual(noop.code, 200, noop.text)
            XCTAssertEqual(R.int(noop.data["version"]), 1)
            XCTAssertTrue(R.isNull(noop.data["deleted_at"]))

            // A stale If-Match on DELETE is refused and nothing changes.
            let stale = try await api.delete("/api/v1/contacts/\(id)", token: t, headers: ["If-Match": "\"7\""])
            R.assertError(stale, 409, "version_conflict", "stale delete")
            let alive = try await api.get("/api/v1/contacts/\(id)", token: t)
            XCTAssertEqual(alive.code, 200)

            let del = try await api.delete("/api/v1/contacts/\(id)", token: t, headers: ["If-Match": "\"1\""])
            XCTAssertEqual(del.code, 204, del.text)
            XCTAssertTrue(del.text.isEmpty)
            R.assertError(try await api.get("/api/v1/contacts/\(id)", token: t), 404, "not_found", "GET deleted")
            R.assertError(try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "X"]), 404, "not_found", "PATCH deleted")
            R.assertError(try await api.delete("/api/v1/contacts/\(id)", token: t), 404, "not_found", "DELETE deleted")
            R.assertError(try await api.get("/api/v1/contacts/\(id)/history", token: t), 404, "not_found", "history of deleted")
            let list = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(list, [keep], "a deleted record leaves lists")
            let search = try await R.searchIDs(api, t, "contacts", ["field": "first_name", "op": "eq", "value": "temp"])
            XCTAssertTrue(search.isEmpty)
            let total = try await api.get("/api/v1/contacts?include_total=true", token: t)
            XCTAssertEqual(R.int(total.json["total"]), 1, total.text)

            // Admins may ask for deleted records; members may not see them.
            let adminGet = try await api.get("/api/v1/contacts/\(id)?include_deleted=true", token: team.admin.accessToken)
            XCTAssertEqual(adminGet.code, 200, adminGet.text)
            XCTAssertFalse(R.isNull(adminGet.data["deleted_at"]), adminGet.text)
            XCTAssertEqual(R.int(adminGet.data["version"]), 2, "delete bumps the version")
            let adminList = try await R.listIDs(api, team.owner.accessToken, "/api/v1/contacts?include_deleted=true")
            XCTAssertEqual(adminList, [id, keep])
            let memberGet = try await api.get("/api/v1/contacts/\(id)?include_deleted=true", token: t)
            XCTAssertEqual(memberGet.code, 404, memberGet.text)
            let memberList = try await api.get("/api/v1/contacts?include_deleted=true", token: t)
            XCTAssertTrue(memberList.code == 403 || (memberList.code == 200 && !R.ids(memberList.items).contains(id)),
                          "a member must not list deleted records: \(memberList.text)")

            // Restore.
            let restored = try await api.post("/api/v1/contacts/\(id)/restore", token: t)
            XCTAssertEqual(restored.code, 200, restored.text)
            XCTAssertTrue(R.isNull(restored.data["deleted_at"]))
            XCTAssertEqual(R.int(restored.data["version"]), 3)
            XCTAssertEqual(restored.header("ETag"), "\"3\"")
            XCTAssertEqual(restored.data["email"] as? String, "temp@example.com")
            let again = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(again, [id, keep])
            let hist = try await R.history(api, t, "contacts", id)
            let deletedRows = hist.filter { $0["field"] as? String == "deleted_at" }
            XCTAssertEqual(deletedRows.count, 2, "delete and restore each leave a history row: \(hist)")
            let restoreAgain = try await api.post("/api/v1/contacts/\(id)/restore", token: t)
            XCTAssertEqual(R.int(restoreAgain.data["version"]), 3, "restoring a live record changes nothing")

            R.assertError(try await api.post("/api/v1/contacts/\(R.fakeID("con"))/restore", token: t), 404, "not_found", "restore unknown")
            let audits = try await R.audit(api, team.owner.accessToken, "object_id=\(id)")
            XCTAssertEqual(Set(audits.compactMap { $0["action"] as? String }), ["contact.created", "contact.deleted", "contact.restored"])
        }
    }

    func testListEqualityFiltersAndQueryText() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.owner.accessToken
            let acme = try await R.company(api, t, ["name": "Acme"])
            let ada = try await R.contact(api, t, ["first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.org", "phone": "+44 20 7946 0958",
                                                  "lifecycle_stage": "customer", "company_id": acme, "tags": ["VIP"], "email_opt_out": true])
            let bob = try await R.contact(api, t, ["first_name": "Bob", "email": "bob@example.com", "lifecycle_stage": "lead", "tags": ["beta"]])
            let carol = try await R.contact(api, team.member.accessToken, ["first_name": "Carol", "last_name": "Lovell", "company_id": acme,
                                                                           "tags": ["vip", "beta"]])
            let all: Set<String> = [ada, bob, carol]

            let cases: [(String, Set<String>)] = [
                ("lifecycle_stage=customer", [ada]),
                ("lifecycle_stage=lead", [bob]),
                ("owner_id=\(team.memberID)", [carol]),
                ("owner_id=\(team.ownerID)", [ada, bob]),
                ("company_id=\(acme)", [ada, carol]),
                ("tag=vip", [ada, carol]),
                ("tag=VIP", [ada, carol]),
                ("tag=BETA", [bob, carol]),
                ("email=ADA@Analytical.org", [ada]),
                ("email_opt_out=true", [ada]),
                ("email_opt_out=false", [bob, carol]),
                ("visibility=workspace", all),
                ("q=lov", [ada, carol]),
                ("q=LOVELACE", [ada]),
                ("q=example.com", [bob]),
                ("q=7946", [ada]),
                ("q=\(R.q("7946 0958"))", [ada]),
                ("q=zz", []),
                ("tag=vip&q=ada", [ada]),
                ("lifecycle_stage=customer&tag=beta", []),
            ]
            for (query, expected) in cases {
                let got = try await R.listIDs(api, t, "/api/v1/contacts?\(query)")
                XCTAssertEqual(got, expected, query)
            }
            // include_total counts the whole filtered set, not the page.
            let page = try await api.get("/api/v1/contacts?tag=vip&limit=1&include_total=true", token: t)
            XCTAssertEqual(page.code, 200, page.text)
            XCTAssertEqual(page.items.count, 1)
            XCTAssertEqual(R.int(page.json["total"]), 2, page.text)
            XCTAssertEqual(F.hasMore(page), true)
            let noTotal = try await api.get("/api/v1/contacts", token: t)
            XCTAssertNil(noTotal.json["total"], "total appears only when asked for")

            // Bad query parameters are 400.
            for bad in ["q=a", "q=%20a%20", "q=\(String(repeating: "q", count: 201))",
                        "favourite=1", "first_name_gte=a", "email_opt_out=maybe", "include_total=maybe", "include_deleted=perhaps",
                        "lifecycle_stage=a&lifecycle_stage=b", "sort=phone", "sort=-nope", "sort=custom_fields.nope"] {
                let r = try await api.get("/api/v1/contacts?\(bad)", token: t)
                R.assertError(r, 400, "bad_request", bad)
            }
        }
    }

    func testListDateRangeParameters() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let a = try await R.contact(api, t, ["first_name": "A"])
            let b = try await R.contact(api, t, ["first_name": "B"])
            let all: Set<String> = [a, b]
            // api.md §1 Filtering: lists take created_after|before and updated_after|before (dates or date-times).
            let cases: [(String, Set<String>)] = [
                ("created_after=2000-01-01", all),
                ("created_before=2000-01-01", []),
                ("created_after=\(R.q("2999-01-01T00:00:00Z"))", []),
                ("created_before=2999-01-01", all),
                ("created_after=2000-01-01&created_before=2999-01-01", all),
                ("updated_after=2000-01-01&updated_before=2999-12-31", all),
                ("updated_after=2999-01-01", []),
                ("last_activity_at_before=2999-01-01", []),
            ]
            for (query, expected) in cases {
                let r = try await api.get("/api/v1/contacts?\(query)", token: t)
                XCTAssertEqual(r.code, 200, "\(query): \(r.text)")
                XCTAssertEqual(Set(R.ids(r.items)), expected, query)
            }
            // The bound follows the record: after patching B, only B was updated after A's creation time + 1 ms.
            let c = try await R.get(api, t, "contacts", a)
            let p = try await api.patch("/api/v1/contacts/\(b)", token: t, json: ["title": "Later"])
            XCTAssertEqual(p.code, 200)
            let updated = p.data["updated_at"] as? String ?? ""
            let since = try await api.get("/api/v1/contacts?updated_after=\(R.q(updated))", token: t)
            XCTAssertEqual(since.code, 200, since.text)
            XCTAssertTrue(R.ids(since.items).contains(b), since.text)
            XCTAssertFalse(R.ids(since.items).contains(a) && (c["updated_at"] as? String ?? "") < updated, since.text)
            for bad in ["created_after=yesterday", "updated_before=2026-13-01", "created_before=2026-02-30"] {
                R.assertError(try await api.get("/api/v1/contacts?\(bad)", token: t), 400, "bad_request", bad)
                let r = try await api.get("/api/v1/contacts?\(bad)", token: t)
                XCTAssertEqual(R.detailFields(r).first, String(bad.split(separator: "=")[0]), "the detail names the parameter: \(r.text)")
                XCTAssertFalse(r.text.contains("Unknown query parameter"), "a known parameter with a bad value: \(r.text)")
            }
        }
    }

    func testPaginationIsExactUnderEverySort() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            // Mixed case (text sorts on its lower-case form), a tie on the name (id breaks it), and some without e-mail.
            let specs: [(String, String?)] = [
                ("delta", "d@example.com"), ("Alpha", nil), ("echo", "b@example.com"), ("Charlie", "E@example.com"),
                ("bravo", nil), ("Zed", "a@example.com"), ("zed", nil),
            ]
            var rows: [(id: String, name: String, email: String?, created: String)] = []
            for (name, email) in specs {
                var body: [String: Any] = ["first_name": name]
                if let email { body["email"] = email }
                let c = try await R.create(api, t, "contacts", body)
                rows.append((c["id"] as? String ?? "", name, c["email"] as? String, c["created_at"] as? String ?? ""))
            }
            XCTAssertEqual(rows.filter { $0.email == nil }.count, 3)
            let byName = rows.map { (id: $0.id, key: Optional($0.name.lowercased())) }
            let byEmail = rows.map { (id: $0.id, key: $0.email) }
            let byCreated = rows.map { (id: $0.id, key: Optional($0.created)) }
            let expectations: [(String, [String])] = [
                ("name", R.expectedOrder(byName, descending: false)),
                ("-name", R.expectedOrder(byName, descending: true)),
                ("email", R.expectedOrder(byEmail, descending: false)),
                ("-email", R.expectedOrder(byEmail, descending: true)),
                ("created_at", R.expectedOrder(byCreated, descending: false)),
                ("-created_at", R.expectedOrder(byCreated, descending: true)),
            ]
            for (sort, expected) in expectations {
                let full = try await api.get("/api/v1/contacts?sort=\(sort)&limit=200", token: t)
                XCTAssertEqual(full.code, 200, full.text)
                XCTAssertEqual(R.ids(full.items), expected, "sort=\(sort) full list")
                XCTAssertTrue(R.isNull(full.json["next_cursor"]), "one page: next_cursor null")
                XCTAssertEqual(F.hasMore(full), false)
                for limit in [1, 2, 3] {
                    let (paged, pages) = try await R.collect(api, t, "/api/v1/contacts?sort=\(sort)", limit: limit)
                    XCTAssertEqual(paged, expected, "sort=\(sort) limit=\(limit): pages must concatenate to the full list")
                    XCTAssertEqual(Set(paged).count, paged.count, "sort=\(sort) limit=\(limit): no repeats")
                    XCTAssertEqual(pages, (expected.count + limit - 1) / limit, "sort=\(sort) limit=\(limit) page count")
                }
            }
            // NULL e-mails come last in both directions.
            let asc = R.expectedOrder(byEmail, descending: false), desc = R.expectedOrder(byEmail, descending: true)
            let nullIDs = Set(rows.filter { $0.email == nil }.map(\.id))
            XCTAssertEqual(Set(asc.suffix(3)), nullIDs)
            XCTAssertEqual(Set(desc.suffix(3)), nullIDs)
            // The default order is newest first.
            let dflt = try await api.get("/api/v1/contacts?limit=200", token: t)
            XCTAssertEqual(R.ids(dflt.items), R.expectedOrder(byCreated, descending: true))

            // A page that is concurrently followed by inserts and deletes neither repeats nor skips rows that existed when it began.
            let first = try await api.get("/api/v1/contacts?sort=name&limit=3", token: t)
            var seen = R.ids(first.items)
            _ = try await R.contact(api, t, ["first_name": "aaa-new"])   // sorts before the cursor: must not appear
            var cursor = F.nextCursor(first)
            while let c = cursor {
                let r = try await api.get("/api/v1/contacts?sort=name&limit=3&cursor=\(R.q(c))", token: t)
                XCTAssertEqual(r.code, 200, r.text)
                seen += R.ids(r.items)
                cursor = F.nextCursor(r)
            }
            XCTAssertEqual(seen, R.expectedOrder(byName, descending: false))
        }
    }

    func testPaginationParameterErrors() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            for i in 0..<4 { _ = try await R.contact(api, t, ["first_name": "N\(i)", "email": "n\(i)@example.com"]) }
            _ = try await R.company(api, t, ["name": "C1"])
            _ = try await R.company(api, t, ["name": "C2"])
            for bad in ["limit=0", "limit=201", "limit=-1", "limit=abc", "limit=", "cursor=", "cursor=garbage", "cursor=\(R.q("eyJ2IjpbXX0="))"] {
                R.assertError(try await api.get("/api/v1/contacts?\(bad)", token: t), 400, "bad_request", bad)
            }
            let ok200 = try await api.get("/api/v1/contacts?limit=200", token: t)
            XCTAssertEqual(ok200.code, 200)
            let ok1 = try await api.get("/api/v1/contacts?limit=1", token: t)
            XCTAssertEqual(ok1.code, 200)
            XCTAssertEqual(ok1.items.count, 1)

            // A cursor only continues the query that produced it.
            let byName = try await api.get("/api/v1/contacts?sort=name&limit=2", token: t)
            let cursor = R.q(F.nextCursor(byName) ?? "")
            XCTAssertFalse(cursor.isEmpty)
            let same = try await api.get("/api/v1/contacts?sort=name&limit=2&cursor=\(cursor)", token: t)
            XCTAssertEqual(same.code, 200, same.text)
            let sameOtherLimit = try await api.get("/api/v1/contacts?sort=name&limit=3&cursor=\(cursor)", token: t)
            XCTAssertEqual(sameOtherLimit.code, 200, "the page size may change between pages: \(sameOtherLimit.text)")
            for other in ["/api/v1/contacts?sort=email&limit=2", "/api/v1/contacts?sort=-name&limit=2", "/api/v1/contacts?limit=2",
                          "/api/v1/contacts?sort=name&q=n1&limit=2", "/api/v1/contacts?sort=name&lifecycle_stage=lead&limit=2",
                          "/api/v1/companies?sort=name&limit=2"] {
                let r = try await api.get("\(other)&cursor=\(cursor)", token: t)
                R.assertError(r, 400, "bad_request", "cursor reused on \(other)")
            }
            // Tampering with one character is detected.
            var chars = Array(F.nextCursor(byName) ?? "")
            if let i = chars.indices.dropFirst(4).first { chars[i] = chars[i] == "A" ? "B" : "A" }
            R.assertError(try await api.get("/api/v1/contacts?sort=name&limit=2&cursor=\(R.q(String(chars)))", token: t), 400, "bad_request", "tampered")
            // A history cursor is not a timeline cursor.
            let cid = try await R.contact(api, t, ["first_name": "H", "last_name": "I", "email": "hi@example.com", "title": "T"])
            let hist = try await api.get("/api/v1/contacts/\(cid)/history?limit=1", token: t)
            let hc = R.q(F.nextCursor(hist) ?? "")
            XCTAssertFalse(hc.isEmpty, hist.text)
            R.assertError(try await api.get("/api/v1/contacts/\(cid)/timeline?limit=1&cursor=\(hc)", token: t), 400, "bad_request", "history cursor on timeline")
        }
    }

    func testSparseFieldsAndExpansion() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let me = try await F.userID(api, t)
            let acme = try await R.company(api, t, ["name": "Acme", "domain": "acme.com"])
            let withCompany = try await R.contact(api, t, ["first_name": "Ada", "email": "ada@example.com", "company_id": acme])
            let without = try await R.contact(api, t, ["first_name": "Bob"])

            let trimmed = try await api.get("/api/v1/contacts/\(withCompany)?fields=email,display_name", token: t)
            XCTAssertEqual(trimmed.code, 200, trimmed.text)
            XCTAssertEqual(Set(trimmed.data.keys), ["id", "email", "display_name"])
            let listTrimmed = try await api.get("/api/v1/contacts?fields=id,first_name", token: t)
            XCTAssertEqual(listTrimmed.items.count, 2)
            for item in listTrimmed.items { XCTAssertEqual(Set(item.keys), ["id", "first_name"]) }
            XCTAssertNotNil(listTrimmed.json["has_more"], "fields= trims records, not the envelope")
            R.assertError(try await api.get("/api/v1/contacts?fields=id;drop", token: t), 400, "bad_request", "bad fields")
            R.assertError(try await api.get("/api/v1/contacts?fields=,", token: t), 400, "bad_request", "empty fields")

            let expanded = try await api.get("/api/v1/contacts/\(withCompany)?expand=company,owner", token: t)
            XCTAssertEqual(expanded.code, 200, expanded.text)
            let company = expanded.data["company"] as? [String: Any]
            XCTAssertEqual(company?["id"] as? String, acme)
            XCTAssertEqual(company?["name"] as? String, "Acme")
            XCTAssertEqual(company?["domain"] as? String, "acme.com")
            let owner = expanded.data["owner"] as? [String: Any]
            XCTAssertEqual(owner?["id"] as? String, me)
            XCTAssertEqual(owner?["email"] as? String, "owner@example.com")
            XCTAssertNil(owner?["password_hash"])
            XCTAssertEqual(expanded.data["company_id"] as? String, acme, "the id stays next to the expansion")

            let list = try await api.get("/api/v1/contacts?expand=company&sort=name", token: t)
            XCTAssertEqual(list.items.count, 2)
            XCTAssertEqual((list.items[0]["company"] as? [String: Any])?["name"] as? String, "Acme")
            XCTAssertTrue(list.items[1].keys.contains("company"), "an empty reference expands to null")
            XCTAssertTrue(R.isNull(list.items[1]["company"]))
            XCTAssertEqual(list.items[1]["id"] as? String, without)

            let both = try await api.get("/api/v1/contacts/\(withCompany)?expand=company&fields=company", token: t)
            XCTAssertEqual(Set(both.data.keys), ["id", "company"], both.text)

            R.assertError(try await api.get("/api/v1/contacts?expand=deals", token: t), 400, "bad_request", "unknown expansion")
            R.assertError(try await api.get("/api/v1/contacts/\(withCompany)?expand=nope", token: t), 400, "bad_request", "unknown expansion on GET")

            // A deleted company expands to null while the id is kept.
            let del = try await api.delete("/api/v1/companies/\(acme)", token: t)
            XCTAssertEqual(del.code, 204)
            let afterDelete = try await api.get("/api/v1/contacts/\(withCompany)?expand=company", token: t)
            XCTAssertEqual(afterDelete.data["company_id"] as? String, acme, "deleting a company keeps the link")
            XCTAssertTrue(R.isNull(afterDelete.data["company"]), afterDelete.text)
            // Expansion also works on create and patch answers.
            let created = try await api.post("/api/v1/contacts?expand=owner", token: t, json: ["first_name": "New"])
            XCTAssertEqual((created.data["owner"] as? [String: Any])?["id"] as? String, me, created.text)
        }
    }

    func testHistoryRecordsFieldActorAndSource() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let me = try await F.userID(api, t)
            let id = try await R.contact(api, t, ["first_name": "Ada", "email": "ada@example.com", "tags": ["a"]])
            let created = try await R.history(api, t, "contacts", id)
            let createdFields = Set(created.compactMap { $0["field"] as? String })
            XCTAssertTrue(createdFields.isSuperset(of: ["first_name", "email", "tags"]), "\(createdFields)")
            XCTAssertFalse(createdFields.contains("display_name"), "derived fields have no history")
            for row in created {
                XCTAssertEqual(row["source"] as? String, "api")
                if row["field"] as? String != "tags" { XCTAssertTrue(R.isNull(row["old"]), "a creation has no old value: \(row)") }
                XCTAssertEqual((row["actor"] as? [String: Any])?["type"] as? String, "user")
                XCTAssertEqual((row["actor"] as? [String: Any])?["id"] as? String, me)
                XCTAssertNotNil(row["at"] as? String)
            }
            let p = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["email": "ADA@lovelace.org", "add_tags": ["b"], "title": "Countess"])
            XCTAssertEqual(p.code, 200, p.text)
            let after = try await R.history(api, t, "contacts", id)
            XCTAssertEqual(after.count, created.count + 3, "one row per changed field: \(after)")
            let email = after.first { $0["field"] as? String == "email" && !R.isNull($0["old"]) }
            XCTAssertEqual(email?["old"] as? String, "ada@example.com")
            XCTAssertEqual(email?["new"] as? String, "ada@lovelace.org")
            let tags = after.first { $0["field"] as? String == "tags" && $0["new"] as? [String] == ["a", "b"] }
            XCTAssertEqual(tags?["old"] as? [String], ["a"])
            XCTAssertEqual(tags?["new"] as? [String], ["a", "b"])
            // Newest first.
            let ats = after.compactMap { $0["at"] as? String }
            XCTAssertEqual(ats, ats.sorted(by: >))

            // An API key is its own actor.
            let key = try await F.createKey(api, t, name: "integration", scopes: ["crm:write"])
            let k = try await api.patch("/api/v1/contacts/\(id)", token: key.secret, json: ["title": "Analyst"])
            XCTAssertEqual(k.code, 200, k.text)
            let byKey = try await R.history(api, t, "contacts", id).first { $0["field"] as? String == "title" && $0["new"] as? String == "Analyst" }
            XCTAssertEqual((byKey?["actor"] as? [String: Any])?["type"] as? String, "api_key")
            XCTAssertEqual((byKey?["actor"] as? [String: Any])?["id"] as? String, key.id)

            // Paged with a cursor, newest first, without repeats.
            let all = try await R.history(api, t, "contacts", id)
            let (paged, _) = try await R.collect(api, t, "/api/v1/contacts/\(id)/history", limit: 2)
            XCTAssertEqual(paged, R.ids(all))
            R.assertError(try await api.get("/api/v1/contacts/\(R.fakeID("con"))/history", token: t), 404, "not_found", "unknown history")
        }
    }

    func testTimelineHasNotesAndChangesNewestFirst() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let id = try await R.contact(api, t, ["first_name": "Ada", "email": "ada@example.com"])
            let n1 = try await R.note(api, t, type: "contact", id: id, body: "first")
            let p = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Countess"])
            XCTAssertEqual(p.code, 200)
            let n2 = try await R.note(api, t, type: "contact", id: id, body: "second")
            let other = try await R.contact(api, t, ["first_name": "Other"])
            _ = try await R.note(api, t, type: "contact", id: other, body: "elsewhere")

            let full = try await api.get("/api/v1/contacts/\(id)/timeline?limit=200", token: t)
            XCTAssertEqual(full.code, 200, full.text)
            let items = full.items
            let noteIDs = items.filter { $0["type"] as? String == "note" }.compactMap { $0["id"] as? String }
            XCTAssertEqual(Set(noteIDs), [n1, n2], "only this contact's notes")
            XCTAssertTrue(items.contains { $0["type"] as? String == "change" && ($0["data"] as? [String: Any])?["field"] as? String == "title" })
            let ats = items.compactMap { $0["at"] as? String }
            XCTAssertEqual(ats.count, items.count)
            XCTAssertEqual(ats, ats.sorted(by: >), "newest first")
            XCTAssertEqual(items.first?["id"] as? String, n2, "the last write is the second note")
            for item in items {
                XCTAssertNotNil(item["actor"] as? [String: Any], "\(item)")
                XCTAssertNotNil(item["data"], "\(item)")
            }
            for limit in [1, 2, 3] {
                let (paged, _) = try await R.collect(api, t, "/api/v1/contacts/\(id)/timeline", limit: limit)
                XCTAssertEqual(paged, R.ids(items), "timeline limit=\(limit)")
            }
            R.assertError(try await api.get("/api/v1/contacts/\(R.fakeID("con"))/timeline", token: t), 404, "not_found", "unknown timeline")
        }
    }

    func testAuditLogRecordsContactWrites() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let id = try await R.contact(api, t, ["first_name": "Ada", "email": "ada@example.com"])
            _ = try await api.patch("/api/v1/contacts/\(id)", token: t, json: ["title": "Countess"])
            _ = try await api.delete("/api/v1/contacts/\(id)", token: t)
            _ = try await api.post("/api/v1/contacts/\(id)/restore", token: t)
            let created = try await R.audit(api, t, "action=contact.created")
            XCTAssertEqual(created.count, 1)
            XCTAssertEqual(created.first?["object_id"] as? String, id)
            XCTAssertEqual(created.first?["object_type"] as? String, "contact")
            let updated = try await R.audit(api, t, "action=contact.updated&object_id=\(id)")
            XCTAssertEqual(updated.count, 1)
            let change = (updated.first?["changes"] as? [String: Any])?["title"] as? [String: Any]
            XCTAssertTrue(R.isNull(change?["old"]), "\(String(describing: updated.first))")
            XCTAssertEqual(change?["new"] as? String, "Countess")
            for action in ["contact.deleted", "contact.restored"] {
                let rows = try await R.audit(api, t, "action=\(action)&object_id=\(id)")
                XCTAssertEqual(rows.count, 1, action)
            }
            // A refused write leaves no audit entry.
            _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "X", "email": "bad"])
            let afterRefusal = try await R.audit(api, t, "action=contact.created")
            XCTAssertEqual(afterRefusal.count, 1)
        }
    }

    func testViewersAndNarrowKeysCannotWrite() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let v = team.viewer.accessToken
            let id = try await R.contact(api, team.member.accessToken, ["first_name": "Ada", "email": "ada@example.com"])
            let company = try await R.company(api, team.member.accessToken, ["name": "Acme"])
            let other = try await R.contact(api, team.member.accessToken, ["first_name": "Other"])
            let read = try await api.get("/api/v1/contacts", token: v)
            XCTAssertEqual(read.code, 200, "viewers read")
            XCTAssertEqual(read.items.count, 2)
            let one = try await api.get("/api/v1/contacts/\(id)", token: v)
            XCTAssertEqual(one.code, 200)
            let writes: [(String, TestResponse)] = [
                ("create", try await api.post("/api/v1/contacts", token: v, json: ["first_name": "V"])),
                ("patch", try await api.patch("/api/v1/contacts/\(id)", token: v, json: ["title": "V"])),
                ("delete", try await api.delete("/api/v1/contacts/\(id)", token: v)),
                ("restore", try await api.post("/api/v1/contacts/\(id)/restore", token: v)),
                ("batch", try await api.post("/api/v1/contacts/batch", token: v, json: ["operations": [["op": "create", "data": ["first_name": "V"]]]])),
                ("merge", try await api.post("/api/v1/contacts/\(id)/merge", token: v, json: ["source_ids": [other]])),
                ("company create", try await api.post("/api/v1/companies", token: v, json: ["name": "V"])),
                ("company patch", try await api.patch("/api/v1/companies/\(company)", token: v, json: ["name": "V"])),
                ("note", try await api.post("/api/v1/notes", token: v, json: ["body": "hi", "related_to": ["type": "contact", "id": id]])),
                ("patch unknown id", try await api.patch("/api/v1/contacts/\(R.fakeID("con"))", token: v, json: ["title": "V"])),
            ]
            for (label, r) in writes { R.assertError(r, 403, "forbidden", "viewer \(label)") }
            let after = try await R.get(api, v, "contacts", id)
            XCTAssertEqual(R.int(after["version"]), 1, "nothing written")
            let list = try await R.listIDs(api, v, "/api/v1/contacts")
            XCTAssertEqual(list.count, 2)
            // Viewer search and check-duplicates are reads.
            let search = try await api.post("/api/v1/contacts/search", token: v, json: ["filter": ["field": "email", "op": "eq", "value": "ada@example.com"]])
            XCTAssertEqual(search.code, 200, search.text)
            let dups = try await api.post("/api/v1/contacts/check-duplicates", token: v, json: ["email": "ada@example.com"])
            XCTAssertEqual(dups.code, 200, dups.text)

            // A key with contacts:read only: 403 naming contacts:write.
            let readKey = try await F.createKey(api, team.member.accessToken, name: "ro", scopes: ["contacts:read"])
            let denied = try await api.post("/api/v1/contacts", token: readKey.secret, json: ["first_name": "K"])
            R.assertError(denied, 403, "forbidden", "read-only key")
            XCTAssertEqual(F.detailScopes(denied), ["contacts:write"], denied.text)
            let companiesDenied = try await api.get("/api/v1/companies", token: readKey.secret)
            XCTAssertEqual(companiesDenied.code, 403, "contacts:read does not reach companies")
            let readOK = try await api.get("/api/v1/contacts", token: readKey.secret)
            XCTAssertEqual(readOK.code, 200)
            // crm:write covers contacts and companies; the key acts as its creator (owner_id) with an api_key actor.
            let crmKey = try await F.createKey(api, team.member.accessToken, name: "crm", scopes: ["crm:write"])
            let made = try await api.post("/api/v1/contacts", token: crmKey.secret, json: ["first_name": "Keyed"])
            XCTAssertEqual(made.code, 201, made.text)
            XCTAssertEqual(made.data["owner_id"] as? String, team.memberID)
            let madeCompany = try await api.post("/api/v1/companies", token: crmKey.secret, json: ["name": "Keyed Co"])
            XCTAssertEqual(madeCompany.code, 201, madeCompany.text)
            let audits = try await R.audit(api, team.owner.accessToken, "action=contact.created&object_id=\(made.data["id"] as? String ?? "")")
            XCTAssertEqual((audits.first?["actor"] as? [String: Any])?["type"] as? String, "api_key", "\(audits)")
            // A viewer's key never writes, whatever scopes it names.
            let viewerKey = try await api.post("/api/v1/api-keys", token: v, json: ["name": "v", "scopes": ["contacts:write"]])
            if viewerKey.code == 201 {
                let use = try await api.post("/api/v1/contacts", token: viewerKey.data["secret"] as? String ?? "", json: ["first_name": "VK"])
                XCTAssertEqual(use.code, 403, "a viewer's key must not write: \(use.text)")
            }
        }
    }

    func testSQLMetacharactersAreStoredVerbatim() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let nasty = "Robert'); DROP TABLE contacts;--"
            let percent = "100% _real_ \\ name"
            let quote = "O\"Brien 'n' Sons"
            let id1 = try await R.contact(api, t, ["first_name": nasty, "last_name": quote, "email": "o'brien+tag@example.com",
                                                  "title": "x' OR '1'='1", "tags": ["a'b", "50%", "x_y"], "source": "--"])
            let id2 = try await R.contact(api, t, ["first_name": percent])
            let id3 = try await R.contact(api, t, ["first_name": "100 plain real name"])
            let c = try await R.get(api, t, "contacts", id1)
            XCTAssertEqual(c["first_name"] as? String, nasty)
            XCTAssertEqual(c["last_name"] as? String, quote)
            XCTAssertEqual(c["email"] as? String, "o'brien+tag@example.com")
            XCTAssertEqual(c["title"] as? String, "x' OR '1'='1")
            XCTAssertEqual(c["tags"] as? [String], ["a'b", "50%", "x_y"])
            XCTAssertEqual(c["source"] as? String, "--")
            let p = try await R.get(api, t, "contacts", id2)
            XCTAssertEqual(p["first_name"] as? String, percent)

            // The table is still there and every row is intact.
            let all = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(all, [id1, id2, id3])
            // LIKE wildcards in q and in contains / starts_with match literally.
            let qPercent = try await R.listIDs(api, t, "/api/v1/contacts?q=\(R.q("0%"))")
            XCTAssertEqual(qPercent, [id2])
            let qUnderscore = try await R.listIDs(api, t, "/api/v1/contacts?q=\(R.q("_real_"))")
            XCTAssertEqual(qUnderscore, [id2])
            let qQuote = try await R.listIDs(api, t, "/api/v1/contacts?q=\(R.q("'); drop"))")
            XCTAssertEqual(qQuote, [id1])
            let containsPercent = try await R.searchIDs(api, t, "contacts", ["field": "first_name", "op": "contains", "value": "%"])
            XCTAssertEqual(containsPercent, [id2])
            let containsUnderscore = try await R.searchIDs(api, t, "contacts", ["field": "display_name", "op": "contains", "value": "_"])
            XCTAssertEqual(containsUnderscore, [id2])
            let backslash = try await R.searchIDs(api, t, "contacts", ["field": "first_name", "op": "contains", "value": "\\"])
            XCTAssertEqual(backslash, [id2])
            let starts = try await R.searchIDs(api, t, "contacts", ["field": "first_name", "op": "starts_with", "value": "robert'); drop"])
            XCTAssertEqual(starts, [id1])
            let eq = try await R.searchIDs(api, t, "contacts", ["field": "title", "op": "eq", "value": "X' OR '1'='1"])
            XCTAssertEqual(eq, [id1])
            let tagEq = try await R.listIDs(api, t, "/api/v1/contacts?tag=\(R.q("A'B"))")
            XCTAssertEqual(tagEq, [id1])
            let tagPercent = try await R.searchIDs(api, t, "contacts", ["field": "tags", "op": "contains", "value": "%"])
            XCTAssertEqual(tagPercent, [id1])
            let tags = try await api.get("/api/v1/tags?q=\(R.q("x_"))", token: t)
            XCTAssertEqual(tags.items.compactMap { $0["tag"] as? String }, ["x_y"], tags.text)
            let tagsUnderscore = try await api.get("/api/v1/tags?q=\(R.q("_"))", token: t)
            XCTAssertTrue(tagsUnderscore.items.isEmpty, "_ is not a wildcard: \(tagsUnderscore.text)")
            let dup = try await api.post("/api/v1/contacts/check-duplicates", token: t, json: ["first_name": "Robert');", "last_name": "DROP"])
            XCTAssertEqual(dup.code, 200, dup.text)
            // An injection attempt in a sort or filter field name is refused, not executed.
            let sortInjection = try await api.get("/api/v1/contacts?sort=\(R.q("name; DROP TABLE contacts"))", token: t)
            XCTAssertEqual(sortInjection.code, 400)
            let fieldInjection = try await R.search(api, t, "contacts", ["field": "email) OR 1=1 --", "op": "eq", "value": "x"])
            XCTAssertEqual(fieldInjection.code, 422)
            let still = try await R.listIDs(api, t, "/api/v1/contacts")
            XCTAssertEqual(still.count, 3)
        }
    }
}
