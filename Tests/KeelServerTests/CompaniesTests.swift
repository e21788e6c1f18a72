import Foundation
import KeelCore
import XCTest

final class CompaniesTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures

    func testCreateNormalisesNameDomainAndMoney() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            let t = s.accessToken
            let me = try await F.userID(api, t)
            let r = try await api.post("/api/v1/companies", token: t, json: [
                "name": "  Acme Inc  ", "domain": "https://www.Acme.com/", "industry": " Manufacturing ", "size": "51-200",
                "phone": "+1 (415) 555-0100", "website": "https://acme.com/about", "annual_revenue": 1234567.89,
                "address": ["city": "Springfield"],
            ])
            XCTAssertEqual(r.code, 201, r.text)
            let c = r.data
            let id = c["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("com_"))
            XCTAssertEqual(r.header("Location"), "/api/v1/companies/\(id)")
            XCTAssertEqual(r.header("ETag"), "\"1\"")
            XCTAssertEqual(c["name"] as? String, "Acme Inc")
            XCTAssertEqual(c["domain"] as? String, "acme.com")
            XCTAssertEqual(c["industry"] as? String, "Manufacturing")
            XCTAssertEqual(c["size"] as? String, "51-200")
            XCTAssertEqual(c["phone"] as? String, "+14155550100")
            XCTAssertEqual(c["website"] as? String, "https://acme.com/about")
            XCTAssertEqual(R.num(c["annual_revenue"]), 1234567.89)
            XCTAssertEqual(c["owner_id"] as? String, me)
            XCTAssertEqual(c["visibility"] as? String, "workspace")
            XCTAssertEqual(R.int(c["version"]), 1)
            XCTAssertEqual(c["tags"] as? [String], [])

            let domains: [(String, String)] = [
                ("ACME.ORG.", "acme.org"), ("http://sub.Example.co.uk:8080/path?q=1#x", "sub.example.co.uk"), ("www.widgets.io", "widgets.io"),
                ("sales@globex.com", "globex.com"), ("  initech.com  ", "initech.com"), ("https://xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ]
            for (i, (raw, stored)) in domains.enumerated() {
                let d = try await api.post("/api/v1/companies", token: t, json: ["name": "D\(i)", "domain": raw])
                XCTAssertEqual(d.code, 201, "\(raw): \(d.text)")
                XCTAssertEqual(d.data["domain"] as? String, stored, raw)
            }
            // Whole-number and zero revenue; the empty domain is no domain.
            let zero = try await R.create(api, t, "companies", ["name": "Zero", "annual_revenue": 0, "domain": "  "])
            XCTAssertEqual(R.num(zero["annual_revenue"]), 0)
            XCTAssertTrue(R.isNull(zero["domain"]))
        }
    }

    func testValidationErrors() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let cases: [([String: Any], String, String?)] = [
                ([String: Any](), "name", "required"),
                (["name": ""], "name", "required"),
                (["name": "   "], "name", "required"),
                (["name": R.null], "name", nil),
                (["name": String(repeating: "n", count: 300)], "name", "too_long"),
                (["name": 12], "name", "invalid_type"),
                (["name": "A", "domain": "acme"], "domain", "invalid_format"),
                (["name": "A", "domain": "http://"], "domain", "invalid_format"),
                (["name": "A", "domain": "1.2.3.4"], "domain", "invalid_format"),
                (["name": "A", "domain": "-acme.com"], "domain", "invalid_format"),
                (["name": "A", "domain": "exa mple.com"], "domain", "invalid_format"),
                (["name": "A", "domain": "acme..com"], "domain", "invalid_format"),
                (["name": "A", "website": "ftp://acme.com"], "website", "invalid_format"),
                (["name": "A", "website": "acme.com"], "website", "invalid_format"),
                (["name": "A", "website": "javascript:alert(1)"], "website", "invalid_format"),
                (["name": "A", "size": "huge"], "size", "invalid_value"),
                (["name": "A", "annual_revenue": 12.345], "annual_revenue", "invalid_precision"),
                (["name": "A", "annual_revenue": -5], "annual_revenue", "negative"),
                (["name": "A", "annual_revenue": "100"], "annual_revenue", "invalid_type"),
                (["name": "A", "phone": "call me"], "phone", "invalid_format"),
                (["name": "A", "phone": "+1234567890123456"], "phone", "invalid_format"),
                (["name": "A", "industry": String(repeating: "i", count: 101)], "industry", "too_long"),
                (["name": "A", "owner_id": R.fakeID("usr")], "owner_id", "not_found"),
                (["name": "A", "company_id": R.fakeID("com")], "company_id", "unknown_field"),
                (["name": "A", "email": "a@b.com"], "email", "unknown_field"),
                (["name": "A", "merged_into": R.fakeID("com")], "merged_into", "unknown_field"),
                (["name": "A", "last_activity_at": "2026-01-01T00:00:00Z"], "last_activity_at", "unknown_field"),
            ]
            for (body, field, code) in cases {
                let r = try await api.post("/api/v1/companies", token: t, json: body)
                R.assertError(r, 422, "validation_failed", field: field, detailCode: code, "\(body)")
            }
            let list = try await api.get("/api/v1/companies?include_total=true", token: t)
            XCTAssertEqual(R.int(list.json["total"]), 0, "no refused request created anything")
        }
    }

    func testDomainIsUniqueAmongLiveCompanies() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let acme = try await R.company(api, t, ["name": "Acme", "domain": "acme.com"])
            for variant in ["acme.com", "https://www.ACME.com/", "WWW.acme.com.", "info@acme.com"] {
                let r = try await api.post("/api/v1/companies", token: t, json: ["name": "Acme 2", "domain": variant])
                R.assertError(r, 409, "duplicate", field: "domain", variant)
                XCTAssertEqual(R.detail(r, "domain")?["existing_id"] as? String, acme, r.text)
            }
            // Companies without a domain never clash; sub-domains are different domains.
            _ = try await R.company(api, t, ["name": "No Domain 1"])
            _ = try await R.company(api, t, ["name": "No Domain 2"])
            let sub = try await R.company(api, t, ["name": "Acme EU", "domain": "eu.acme.com"])
            let clash = try await api.patch("/api/v1/companies/\(sub)", token: t, json: ["domain": "http://acme.com"])
            R.assertError(clash, 409, "duplicate", field: "domain", "patch onto a taken domain")
            let subAfter = try await R.get(api, t, "companies", sub)
            XCTAssertEqual(subAfter["domain"] as? String, "eu.acme.com")
            // The same name is allowed (names are not unique).
            _ = try await R.company(api, t, ["name": "Acme"])
            // Deleting frees the domain.
            let del = try await api.delete("/api/v1/companies/\(acme)", token: t)
            XCTAssertEqual(del.code, 204)
            let reuse = try await api.post("/api/v1/companies", token: t, json: ["name": "New Acme", "domain": "acme.com"])
            XCTAssertEqual(reuse.code, 201, reuse.text)
            XCTAssertNotEqual(reuse.data["id"] as? String, acme)
        }
    }

    func testRestoringIntoATakenDomainIsADuplicate() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let acme = try await R.company(api, t, ["name": "Acme", "domain": "acme.com"])
            try await R.delete(api, t, "companies", acme)
            let reuse = try await R.company(api, t, ["name": "New Acme", "domain": "acme.com"])
            let restore = try await api.post("/api/v1/companies/\(acme)/restore", token: t)
            XCTAssertEqual(restore.code, 409, "restoring into a taken domain: \(restore.text)")
            XCTAssertEqual(restore.errorCode, "duplicate", "api.md §7: a unique-value clash is 409 duplicate: \(restore.text)")
            XCTAssertEqual(restore.errorDetails.first?["existing_id"] as? String, reuse, restore.text)
            R.assertError(try await api.get("/api/v1/companies/\(acme)", token: t), 404, "not_found", "still deleted")
        }
    }

    func testPatchDeleteRestore() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let id = try await R.company(api, t, ["name": "Acme", "domain": "acme.com", "industry": "Tools", "annual_revenue": 100])
            let p = try await api.patch("/api/v1/companies/\(id)", token: t, json: ["industry": R.null, "annual_revenue": 250.5, "size": "1-10"],
                                        headers: ["If-Match": "\"1\""])
            XCTAssertEqual(p.code, 200, p.text)
            XCTAssertTrue(R.isNull(p.data["industry"]))
            XCTAssertEqual(R.num(p.data["annual_revenue"]), 250.5)
            XCTAssertEqual(p.data["domain"] as? String, "acme.com")
            XCTAssertEqual(R.int(p.data["version"]), 2)
            R.assertError(try await api.patch("/api/v1/companies/\(id)", token: t, json: ["name": R.null]), 422, "validation_failed", field: "name",
                          "name cannot be cleared")
            R.assertError(try await api.patch("/api/v1/companies/\(id)", token: t, json: ["name": "  "]), 422, "validation_failed", field: "name",
                          "name cannot be emptied")
            let stale = try await api.patch("/api/v1/companies/\(id)", token: t, json: ["name": "Stale"], headers: ["If-Match": "\"1\""])
            R.assertError(stale, 409, "version_conflict", "stale")
            let now = try await R.get(api, t, "companies", id)
            XCTAssertEqual(now["name"] as? String, "Acme")
            XCTAssertEqual(R.int(now["version"]), 2)

            let noop = try await api.post("/api/v1/companies/\(id)/restore", token: t)
            XCTAssertEqual(noop.code, 200, noop.text)
            XCTAssertEqual(R.int(noop.data["version"]), 2, "restoring a live company changes nothing")
            let deleted1 = try await api.delete("/api/v1/companies/\(id)", token: t)

            XCTAssertEqual(deleted1.code, 204)
            R.assertError(try await api.get("/api/v1/companies/\(id)", token: t), 404, "not_found", "GET deleted")
            R.assertError(try await api.patch("/api/v1/companies/\(id)", token: t, json: ["name": "X"]), 404, "not_found", "PATCH deleted")
            R.assertError(try await api.get("/api/v1/companies/\(id)/contacts", token: t), 404, "not_found", "contacts of deleted")
            let list = try await R.listIDs(api, t, "/api/v1/companies")
            XCTAssertFalse(list.contains(id))
            let restored = try await api.post("/api/v1/companies/\(id)/restore", token: t)
            XCTAssertEqual(restored.code, 200, restored.text)
            XCTAssertEqual(R.int(restored.data["version"]), 4)
            XCTAssertEqual(restored.data["domain"] as? String, "acme.com")
            let audits = try await R.audit(api, t, "object_id=\(id)")
            XCTAssertEqual(Set(audits.compactMap { $0["action"] as? String }), ["company.created", "company.updated", "company.deleted", "company.restored"])
            let hist = try await R.history(api, t, "companies", id)
            let revenue = hist.first { $0["field"] as? String == "annual_revenue" && !R.isNull($0["old"]) }
            XCTAssertEqual(R.num(revenue?["old"]), 100)
            XCTAssertEqual(R.num(revenue?["new"]), 250.5)
        }
    }

    func testListFiltersSortsAndPagination() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.owner.accessToken
            let specs: [(String, String?, Double?, String?, String?)] = [
                ("globex", "globex.com", 5_000_000, "Energy", "51-200"),
                ("Acme", "acme.com", 1_000_000, "Manufacturing", "11-50"),
                ("initech", nil, nil, "Software", nil),
                ("Hooli", "hooli.xyz", 250_000.5, "software", "10000+"),
                ("Umbrella", nil, 90_000_000, nil, nil),
                ("soylent", "soylent.com", nil, "Food", "1-10"),
                ("Massive Dynamic", "massive.io", 1_000_000, "Energy", nil),
            ]
            var rows: [(id: String, name: String, revenue: Double?)] = []
            for (name, domain, revenue, industry, size) in specs {
                var body: [String: Any] = ["name": name]
                if let domain { body["domain"] = domain }
                if let revenue { body["annual_revenue"] = revenue }
                if let industry { body["industry"] = industry }
                if let size { body["size"] = size }
                rows.append((try await R.company(api, t, body), name, revenue))
            }
            let idOf = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.id) })
            let filters: [(String, Set<String>)] = [
                ("industry=software", [idOf["initech"]!, idOf["Hooli"]!]),
                ("industry=ENERGY", [idOf["globex"]!, idOf["Massive Dynamic"]!]),
                ("size=51-200", [idOf["globex"]!]),
                ("domain=\(R.q("https://www.acme.com"))", [idOf["Acme"]!]),
                ("annual_revenue_gte=1000000", [idOf["globex"]!, idOf["Acme"]!, idOf["Umbrella"]!, idOf["Massive Dynamic"]!]),
                ("annual_revenue_lte=250000.5", [idOf["Hooli"]!]),
                ("annual_revenue_gte=1000000&annual_revenue_lte=5000000", [idOf["globex"]!, idOf["Acme"]!, idOf["Massive Dynamic"]!]),
                ("q=co", [idOf["globex"]!, idOf["Acme"]!, idOf["soylent"]!]),
                ("q=ACME", [idOf["Acme"]!]),
                ("q=massive", [idOf["Massive Dynamic"]!]),
                ("owner_id=\(team.ownerID)", Set(rows.map(\.id))),
                ("owner_id=\(team.memberID)", []),
            ]
            for (query, expected) in filters {
                let got = try await R.listIDs(api, t, "/api/v1/companies?\(query)")
                XCTAssertEqual(got, expected, query)
            }
            for bad in ["annual_revenue_gte=lots", "annual_revenue=abc", "size_gte=5", "name_after=2020-01-01", "q=x"] {
                R.assertError(try await api.get("/api/v1/companies?\(bad)", token: t), 400, "bad_request", bad)
            }
            let byName = rows.map { (id: $0.id, key: Optional($0.name.lowercased())) }
            // Money sorts numerically, NULLs last both ways.
            let byRevenue = rows.map { (id: $0.id, key: $0.revenue.map { String(format: "%020.2f", $0) }) }
            for (sort, expected) in [("name", R.expectedOrder(byName, descending: false)), ("-name", R.expectedOrder(byName, descending: true)),
                                     ("annual_revenue", R.expectedOrder(byRevenue, descending: false)),
                                     ("-annual_revenue", R.expectedOrder(byRevenue, descending: true))] {
                let full = try await api.get("/api/v1/companies?sort=\(sort)&limit=200", token: t)
                XCTAssertEqual(R.ids(full.items), expected, "sort=\(sort)")
                for limit in [2, 3] {
                    let (paged, _) = try await R.collect(api, t, "/api/v1/companies?sort=\(sort)", limit: limit)
                    XCTAssertEqual(paged, expected, "sort=\(sort) limit=\(limit)")
                }
            }
            let total = try await api.get("/api/v1/companies?industry=energy&include_total=true&limit=1", token: t)
            XCTAssertEqual(R.int(total.json["total"]), 2, total.text)
        }
    }

    func testCompanyContactsEndpoint() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let acme = try await R.company(api, t, ["name": "Acme"])
            let globex = try await R.company(api, t, ["name": "Globex"])
            var acmeContacts: [String] = []
            for name in ["Ada", "Bob", "Cy", "Di"] { acmeContacts.append(try await R.contact(api, t, ["first_name": name, "company_id": acme])) }
            let globexContact = try await R.contact(api, t, ["first_name": "Eve", "company_id": globex])
            _ = try await R.contact(api, t, ["first_name": "Loner"])
            let gone = try await R.contact(api, t, ["first_name": "Gone", "company_id": acme])
            let deleted2 = try await api.delete("/api/v1/contacts/\(gone)", token: t)

            XCTAssertEqual(deleted2.code, 204)

            let all = try await api.get("/api/v1/companies/\(acme)/contacts?sort=name&limit=200&include_total=true", token: t)
            XCTAssertEqual(all.code, 200, all.text)
            XCTAssertEqual(R.ids(all.items), acmeContacts, "live contacts of Acme by name")
            XCTAssertEqual(R.int(all.json["total"]), 4)
            let (paged, pages) = try await R.collect(api, t, "/api/v1/companies/\(acme)/contacts?sort=name", limit: 3)
            XCTAssertEqual(paged, acmeContacts)
            XCTAssertEqual(pages, 2)
            let filtered = try await R.listIDs(api, t, "/api/v1/companies/\(acme)/contacts?q=bob")
            XCTAssertEqual(filtered, [acmeContacts[1]])
            let expanded = try await api.get("/api/v1/companies/\(globex)/contacts?expand=company", token: t)
            XCTAssertEqual(R.ids(expanded.items), [globexContact])
            XCTAssertEqual((expanded.items.first?["company"] as? [String: Any])?["name"] as? String, "Globex")
            // A company_id in the query cannot widen the list to another company.
            let override = try await api.get("/api/v1/companies/\(acme)/contacts?company_id=\(globex)", token: t)
            XCTAssertFalse(R.ids(override.items).contains(globexContact), override.text)

            R.assertError(try await api.get("/api/v1/companies/\(R.fakeID("com"))/contacts", token: t), 404, "not_found", "unknown company")
            R.assertError(try await api.get("/api/v1/companies/\(acmeContacts[0])/contacts", token: t), 404, "not_found", "contact id as company")
            R.assertError(try await api.get("/api/v1/companies/\(acme)/contacts?limit=0", token: t), 400, "bad_request", "limit=0")
            // Moving a contact to another company moves it between the lists.
            let moved = try await api.patch("/api/v1/contacts/\(acmeContacts[0])", token: t, json: ["company_id": globex])
            XCTAssertEqual(moved.code, 200, moved.text)
            let globexNow = try await R.listIDs(api, t, "/api/v1/companies/\(globex)/contacts")
            XCTAssertEqual(globexNow, [globexContact, acmeContacts[0]])
            let unlink = try await api.patch("/api/v1/contacts/\(acmeContacts[1])", token: t, json: ["company_id": R.null])
            XCTAssertTrue(R.isNull(unlink.data["company_id"]), unlink.text)
            let acmeNow = try await R.listIDs(api, t, "/api/v1/companies/\(acme)/contacts")
            XCTAssertEqual(acmeNow, [acmeContacts[2], acmeContacts[3]])
        }
    }

    func testExpandOwnerAndFields() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let id = try await R.company(api, team.owner.accessToken, ["name": "Acme", "owner_id": team.memberID])
            let r = try await api.get("/api/v1/companies/\(id)?expand=owner", token: team.viewer.accessToken)
            XCTAssertEqual(r.code, 200, r.text)
            let owner = r.data["owner"] as? [String: Any]
            XCTAssertEqual(owner?["id"] as? String, team.memberID)
            XCTAssertEqual(owner?["email"] as? String, "member@example.com")
            let list = try await api.get("/api/v1/companies?expand=owner&fields=name,owner", token: team.viewer.accessToken)
            XCTAssertEqual(list.items.count, 1)
            XCTAssertEqual(Set(list.items[0].keys), ["id", "name", "owner"])
            R.assertError(try await api.get("/api/v1/companies?expand=company", token: team.owner.accessToken), 400, "bad_request", "companies have no company")
            R.assertError(try await api.get("/api/v1/companies?expand=contacts,nope", token: team.owner.accessToken), 400, "bad_request", "unknown")
            // Reassigning to a non-member is refused; to a member works.
            R.assertError(try await api.patch("/api/v1/companies/\(id)", token: team.owner.accessToken, json: ["owner_id": R.fakeID("usr")]), 422,
                          "validation_failed", field: "owner_id", detailCode: "not_found", "unknown owner")
            let reassigned = try await api.patch("/api/v1/companies/\(id)", token: team.member.accessToken, json: ["owner_id": team.member2ID])
            XCTAssertEqual(reassigned.code, 200, reassigned.text)
            XCTAssertEqual(reassigned.data["owner_id"] as? String, team.member2ID)
        }
    }

    func testCheckDuplicatesForCompanies() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let acme = try await R.company(api, t, ["name": "Acme Corporation", "domain": "acme.com"])
            let other = try await R.company(api, t, ["name": "Globex"])
            let byDomain = try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["domain": "https://www.ACME.com/contact"])
            XCTAssertEqual(byDomain.code, 200, byDomain.text)
            XCTAssertEqual(R.ids(byDomain.items.compactMap { $0["record"] as? [String: Any] }), [acme])
            XCTAssertEqual(R.num(byDomain.items.first?["score"]), 1.0)
            XCTAssertTrue((byDomain.items.first?["reasons"] as? [String] ?? []).contains("domain_match"), byDomain.text)
            let byName = try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["name": "acme corporation"])
            let nameHit = byName.items.first { ($0["record"] as? [String: Any])?["id"] as? String == acme }
            XCTAssertNotNil(nameHit, byName.text)
            XCTAssertTrue((nameHit?["reasons"] as? [String] ?? []).contains { $0.hasPrefix("name_") }, byName.text)
            XCTAssertFalse(byName.items.contains { ($0["record"] as? [String: Any])?["id"] as? String == other })
            let similar = try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["name": "Acme Corporatoin"])
            XCTAssertTrue(similar.items.contains { ($0["record"] as? [String: Any])?["id"] as? String == acme }, "typo-tolerant: \(similar.text)")
            let none = try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["name": "Zebra Holdings", "domain": "zebra.io"])
            XCTAssertEqual(none.code, 200)
            XCTAssertTrue(none.items.isEmpty, none.text)
            R.assertError(try await api.post("/api/v1/companies/check-duplicates", token: t, json: [String: Any]()), 422, "validation_failed", "empty")
            R.assertError(try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["domain": "nope"]), 422, "validation_failed",
                          field: "domain", "bad domain")
            R.assertError(try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["name": "A", "email": "x@y.com"]), 422,
                          "validation_failed", "unknown key")
            // Deleted companies are not candidates.
            let deleted3 = try await api.delete("/api/v1/companies/\(acme)", token: t)

            XCTAssertEqual(deleted3.code, 204)
            let afterDelete = try await api.post("/api/v1/companies/check-duplicates", token: t, json: ["domain": "acme.com", "name": "Acme Corporation"])
            XCTAssertTrue(afterDelete.items.isEmpty, afterDelete.text)
        }
    }

    func testHistoryTimelineAndNotesOfCompanies() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let id = try await R.company(api, t, ["name": "Acme"])
            _ = try await api.patch("/api/v1/companies/\(id)", token: t, json: ["domain": "acme.com", "add_tags": ["Key Account"]])
            let note = try await R.note(api, t, type: "company", id: id, body: "Renewal in **May**")
            let hist = try await R.history(api, t, "companies", id)
            XCTAssertTrue(hist.contains { $0["field"] as? String == "domain" && $0["new"] as? String == "acme.com" }, "\(hist)")
            XCTAssertTrue(hist.contains { $0["field"] as? String == "tags" })
            let timeline = try await api.get("/api/v1/companies/\(id)/timeline", token: t)
            XCTAssertEqual(timeline.code, 200, timeline.text)
            XCTAssertEqual(timeline.items.first?["id"] as? String, note)
            XCTAssertEqual(((timeline.items.first?["data"] as? [String: Any])?["body"]) as? String, "Renewal in **May**")
            let created = try await R.audit(api, t, "action=company.created")
            XCTAssertEqual(created.compactMap { $0["object_id"] as? String }, [id])
        }
    }
}
