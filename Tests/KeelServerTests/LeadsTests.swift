import Foundation
import KeelCore
import XCTest

final class LeadsTests: XCTestCase {
    typealias R = RecordFixtures
    typealias C = CRMFixtures

    func testStatusesAndSources() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let l = try await R.create(api, t, "leads", ["name": "Ada", "email": " ADA@Example.com "])
            XCTAssertEqual(l["status"] as? String, "new")
            XCTAssertEqual(l["source"] as? String, "manual")
            XCTAssertEqual(l["email"] as? String, "ada@example.com")
            let id = l["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("lead_"))
            for source in ["manual", "website", "referral", "campaign", "import", "api", "other"] {
                C.expect(try await api.post("/api/v1/leads", token: t, json: ["name": "S", "source": source]), 201, source)
            }
            R.assertError(try await api.post("/api/v1/leads", token: t, json: ["name": "S", "source": "billboard"]), 422, "validation_failed", field: "source")
            R.assertError(try await api.post("/api/v1/leads", token: t, json: ["name": "S", "status": "hot"]), 422, "validation_failed", field: "status")
            R.assertError(try await api.post("/api/v1/leads", token: t, json: ["name": "S", "value": 1.234]), 422, "validation_failed", field: "value")
            R.assertError(try await api.post("/api/v1/leads", token: t, json: ["name": "S", "converted_contact_id": R.fakeID("con")]), 422,
                          "validation_failed")
            for status in ["working", "qualified", "disqualified", "new"] {
                let r = try await api.patch("/api/v1/leads/\(id)", token: t, json: ["status": status])
                XCTAssertEqual(r.code, 200, r.text)
                XCTAssertEqual(r.data["status"] as? String, status)
            }
            R.assertError(try await api.patch("/api/v1/leads/\(id)", token: t, json: ["status": "converted"]), 422, "invalid_transition", field: "status")
            R.assertError(try await api.post("/api/v1/leads", token: t, json: ["name": "S", "status": "converted"]), 422, "invalid_transition")
            let manualNew = try await R.listIDs(api, t, "/api/v1/leads?status=new&source=manual&q=ada")
            XCTAssertEqual(manualNew, [id])
            let website = try await R.listIDs(api, t, "/api/v1/leads?source=website")
            XCTAssertEqual(website.count, 1)
        }
    }

    func testConvertCreatesContactCompanyAndDeal() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let other = try await C.createPipeline(api, t, ["name": "Partners"])
            let id = try await C.lead(api, t, ["name": "Grace Hopper", "email": "grace@navy.mil", "company_name": "US Navy", "title": "Admiral",
                                               "phone": "+1 415 555 0100", "value": 750])
            let r = try await api.post("/api/v1/leads/\(id)/convert", token: t, json: ["create_deal": true, "deal_name": "Navy deal",
                                                                                     "pipeline_id": other.id, "stage_id": other.stage("Qualified")])
            XCTAssertEqual(r.code, 200, r.text)
            let lead = r.data["lead"] as? [String: Any] ?? [:]
            let contact = r.data["contact"] as? [String: Any] ?? [:]
            let company = r.data["company"] as? [String: Any] ?? [:]
            let deal = r.data["deal"] as? [String: Any] ?? [:]
            XCTAssertEqual(lead["status"] as? String, "converted")
            XCTAssertEqual(lead["converted_contact_id"] as? String, contact["id"] as? String)
            XCTAssertEqual(lead["converted_company_id"] as? String, company["id"] as? String)
            XCTAssertEqual(lead["converted_deal_id"] as? String, deal["id"] as? String)
            XCTAssertFalse(R.isNull(lead["converted_at"]))
            XCTAssertEqual(contact["first_name"] as? String, "Grace")
            XCTAssertEqual(contact["last_name"] as? String, "Hopper")
            XCTAssertEqual(contact["email"] as? String, "grace@navy.mil")
            XCTAssertEqual(contact["company_id"] as? String, company["id"] as? String)
            XCTAssertEqual(company["name"] as? String, "US Navy")
            XCTAssertEqual(deal["name"] as? String, "Navy deal")
            XCTAssertEqual(deal["pipeline_id"] as? String, other.id)
            XCTAssertEqual(deal["stage_id"] as? String, other.stage("Qualified"))
            XCTAssertEqual(R.num(deal["value"]), 750)
            XCTAssertEqual(deal["contact_ids"] as? [String], [contact["id"] as? String ?? ""])
            XCTAssertEqual(deal["company_id"] as? String, company["id"] as? String)
            // Converting twice → 422 invalid_transition; a converted lead is frozen.
            R.assertError(try await api.post("/api/v1/leads/\(id)/convert", token: t, json: [String: Any]()), 422, "invalid_transition")
            R.assertError(try await api.patch("/api/v1/leads/\(id)", token: t, json: ["name": "Changed"]), 422, "invalid_transition")
            // Audit.
            let audit = try await R.audit(api, t, "action=lead.converted&object_id=\(id)")
            XCTAssertEqual(audit.count, 1, "\(audit)")
            // A deal in a pipeline without a stage goes to that pipeline's first open stage.
            let l2 = try await C.lead(api, t, ["name": "Kay"])
            let r2 = try await api.post("/api/v1/leads/\(l2)/convert", token: t, json: ["create_deal": true, "pipeline_id": other.id])
            XCTAssertEqual(r2.code, 200, r2.text)
            XCTAssertEqual((r2.data["deal"] as? [String: Any])?["stage_id"] as? String, other.stage("Lead In"))
            XCTAssertTrue(R.isNull(r2.data["company"]), "no company name or e-mail: no company")
            // Without create_deal there is no deal.
            let l3 = try await C.lead(api, t, ["name": "Lin", "email": "lin@x.io"])
            let r3 = try await api.post("/api/v1/leads/\(l3)/convert", token: t)
            XCTAssertEqual(r3.code, 200, r3.text)
            XCTAssertTrue(R.isNull(r3.data["deal"]))
        }
    }

    func testConvertLinksExistingContactAndCompany() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let company = try await R.company(api, t, ["name": "Initech Corporation", "domain": "initech.com"])
            let contact = try await R.contact(api, t, ["first_name": "Peter", "last_name": "Gibbons", "email": "peter@initech.com"])
            let id = try await C.lead(api, t, ["name": "Peter G", "email": "Peter@Initech.com", "company_name": "Initech"])
            let r = try await api.post("/api/v1/leads/\(id)/convert", token: t, json: ["create_deal": false])
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertEqual((r.data["contact"] as? [String: Any])?["id"] as? String, contact, "linked by e-mail")
            XCTAssertEqual((r.data["company"] as? [String: Any])?["id"] as? String, company, "linked by domain")
            let contacts = try await api.get("/api/v1/contacts?limit=200", token: t)
            XCTAssertEqual(contacts.items.count, 1)
            let companies = try await api.get("/api/v1/companies?limit=200", token: t)
            XCTAssertEqual(companies.items.count, 1)
            // By company name when no domain matches.
            let acme = try await R.company(api, t, ["name": "Acme"])
            let l2 = try await C.lead(api, t, ["name": "Wile E", "email": "wile@gmail.example", "company_name": "Acme"])
            let r2 = try await api.post("/api/v1/leads/\(l2)/convert", token: t)
            XCTAssertEqual((r2.data["company"] as? [String: Any])?["id"] as? String, acme, r2.text)
            // Explicit ids, and unknown ones.
            let l3 = try await C.lead(api, t, ["name": "Sam"])
            R.assertError(try await api.post("/api/v1/leads/\(l3)/convert", token: t, json: ["contact_id": R.fakeID("con")]), 422, "validation_failed",
                          field: "contact_id")
            R.assertError(try await api.post("/api/v1/leads/\(l3)/convert", token: t, json: ["company_id": R.fakeID("com")]), 422, "validation_failed",
                          field: "company_id")
            R.assertError(try await api.post("/api/v1/leads/\(l3)/convert", token: t, json: ["create_deal": true, "stage_id": R.fakeID("stg")]), 422,
                          "validation_failed")
            R.assertError(try await api.post("/api/v1/leads/\(l3)/convert", token: t, json: ["bogus": true]), 422, "validation_failed")
            let unchanged = try await R.get(api, t, "leads", l3)
            XCTAssertEqual(unchanged["status"] as? String, "new", "failed conversions change nothing")
            let r3 = try await api.post("/api/v1/leads/\(l3)/convert", token: t, json: ["contact_id": contact, "company_id": acme])
            XCTAssertEqual(r3.code, 200, r3.text)
            XCTAssertEqual((r3.data["contact"] as? [String: Any])?["id"] as? String, contact)
            XCTAssertEqual((r3.data["company"] as? [String: Any])?["id"] as? String, acme)
        }
    }

    func testDisqualifiedLeadsDoNotConvert() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let id = try await C.lead(api, t, ["name": "Nope", "status": "disqualified"])
            R.assertError(try await api.post("/api/v1/leads/\(id)/convert", token: t), 422, "invalid_transition")
            C.expect(try await api.post("/api/v1/leads/\(R.fakeID("lead"))/convert", token: t), 404)
            let viewer = try await api.addMember(t, email: "v@example.com", role: "viewer")
            let ok = try await C.lead(api, t, ["name": "Fine"])
            R.assertError(try await api.post("/api/v1/leads/\(ok)/convert", token: viewer.accessToken), 403, "forbidden")
        }
    }
}
