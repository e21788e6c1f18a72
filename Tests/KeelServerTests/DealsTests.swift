import Foundation
import KeelCore
import XCTest

final class DealsTests: XCTestCase {
    typealias R = RecordFixtures
    typealias F = IdentityFixtures
    typealias C = CRMFixtures

    func testCreateDerivesPipelineCurrencyStatusAndProbability() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let me = try await F.userID(api, t)
            let sales = try await C.defaultPipeline(api, t)
            let r = try await api.post("/api/v1/deals", token: t, json: ["name": "Big", "stage_id": sales.stage("Qualified"), "value": 1234.5,
                                                                         "expected_close_date": "2030-06-30"])
            XCTAssertEqual(r.code, 201, r.text)
            let d = r.data
            let id = d["id"] as? String ?? ""
            XCTAssertTrue(id.hasPrefix("deal_"), id)
            XCTAssertEqual(r.header("Location"), "/api/v1/deals/\(id)")
            XCTAssertEqual(d["pipeline_id"] as? String, sales.id)
            XCTAssertEqual(d["currency"] as? String, "USD")
            XCTAssertEqual(d["status"] as? String, "open")
            XCTAssertEqual(R.num(d["probability"]), 0.4)
            XCTAssertEqual(R.num(d["value"]), 1234.5)
            XCTAssertEqual(d["owner_id"] as? String, me)
            XCTAssertEqual(d["expected_close_date"] as? String, "2030-06-30")
            XCTAssertTrue(R.isNull(d["closed_at"]))
            XCTAssertFalse(R.isNull(d["stage_entered_at"]))
            XCTAssertEqual(d["is_stale"] as? Bool, false)
            XCTAssertEqual(d["contact_ids"] as? [String], [])
            XCTAssertNil(d["probability_overridden"], "internal flag is not rendered")

            // Validation.
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X"]), 422, "validation_failed", field: "stage_id")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["stage_id": sales.stage("Qualified")]), 422, "validation_failed", field: "name")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"), "currency": "EUR"]),
                          422, "validation_failed", field: "currency")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"), "value": 10.001]),
                          422, "validation_failed", field: "value")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"), "value": -5]),
                          422, "validation_failed", field: "value")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"), "status": "won"]),
                          422, "validation_failed", field: "status")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"), "probability": 1.2]),
                          422, "validation_failed", field: "probability")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": R.fakeID("stg")]), 422, "validation_failed",
                          field: "stage_id", detailCode: "not_found")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"),
                                                                               "expected_close_date": "30/06/2030"]), 422, "validation_failed",
                          field: "expected_close_date")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Qualified"), "colour": "red"]),
                          422, "validation_failed")
            // A stage of another pipeline than the one named.
            let euro = try await C.createPipeline(api, t, ["name": "Euro", "currency": "EUR"])
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": euro.stage("Lead In"), "pipeline_id": sales.id]),
                          422, "validation_failed", field: "stage_id")
            // A deal in the EUR pipeline takes EUR; USD is refused there.
            let eur = try await C.deal(api, t, ["name": "Euro deal", "stage_id": euro.stage("Lead In"), "value": 10])
            XCTAssertEqual(eur["currency"] as? String, "EUR")
            XCTAssertEqual(eur["pipeline_id"] as? String, euro.id)
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": euro.stage("Lead In"), "currency": "USD"]),
                          422, "validation_failed", field: "currency")
            // Moving to another pipeline's stage needs pipeline_id.
            let cross = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["stage_id": euro.stage("Lead In")])
            R.assertError(cross, 422, "validation_failed", field: "stage_id")
        }
    }

    func testProbabilityOverrideAndReset() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In"), "probability": 0.9])
            let created = try await R.get(api, t, "deals", id)
            XCTAssertEqual(R.num(created["probability"]), 0.9)
            let moved = try await C.move(api, t, id, to: sales.stage("Proposal"))
            XCTAssertEqual(moved.code, 200, moved.text)
            XCTAssertEqual(R.num(moved.data["probability"]), 0.9, "an override survives moves")
            let reset = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["probability": NSNull()])
            XCTAssertEqual(reset.code, 200, reset.text)
            XCTAssertEqual(R.num(reset.data["probability"]), 0.6, "null returns to the stage's probability")
            let next = try await C.move(api, t, id, to: sales.stage("Negotiation"))
            XCTAssertEqual(R.num(next.data["probability"]), 0.8)
        }
    }

    func testDealProbabilityFollowsItsStageWhenTheStageChanges() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Qualified")])
            let patched = try await api.patch("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Qualified"))", token: t, json: ["probability": 0.35])
            XCTAssertEqual(patched.code, 200, patched.text)
            let d = try await R.get(api, t, "deals", id)
            // api.md §3 Deal: probability is the stage's unless overridden.
            XCTAssertEqual(R.num(d["probability"]), 0.35, "deal probability must follow its stage's new probability")
        }
    }

    func testDisallowSkip() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            // Proposal may not be skipped.
            let rule = try await api.patch("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Proposal"))", token: t,
                                           json: ["rules": ["disallow_skip": true]])
            XCTAssertEqual(rule.code, 200, rule.text)
            XCTAssertEqual((rule.data["rules"] as? [String: Any])?["disallow_skip"] as? Bool, true)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In")])
            let skip = try await C.move(api, t, id, to: sales.stage("Negotiation"))
            R.assertError(skip, 422, "invalid_transition", field: "stage_id")
            XCTAssertTrue(skip.text.contains("Proposal"), skip.text)
            let unchanged = try await R.get(api, t, "deals", id)
            XCTAssertEqual(unchanged["stage_id"] as? String, sales.stage("Lead In"))
            XCTAssertEqual(R.int(unchanged["version"]), 1)
            // Skipping only unprotected stages (Qualified) into the protected one is fine.
            C.expect(try await C.move(api, t, id, to: sales.stage("Proposal")), 200)
            let d2 = try await C.dealID(api, t, ["name": "D2", "stage_id": sales.stage("Qualified")])
            R.assertError(try await api.patch("/api/v1/deals/\(d2)", token: t, json: ["stage_id": sales.stage("Negotiation")]), 422, "invalid_transition")
            // Winning or losing skips freely; backward moves are not skips.
            C.expect(try await C.move(api, t, d2, to: sales.stage("Won")), 200)
            let d3 = try await C.dealID(api, t, ["name": "D3", "stage_id": sales.stage("Lead In")])
            C.expect(try await C.move(api, t, d3, to: sales.stage("Lost")), 200)
            let d4 = try await C.dealID(api, t, ["name": "D4", "stage_id": sales.stage("Negotiation")])
            C.expect(try await C.move(api, t, d4, to: sales.stage("Lead In")), 200)
        }
    }

    func testAllowedNextStages() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let rule = try await api.patch("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Lead In"))", token: t,
                                           json: ["rules": ["allowed_next_stage_ids": [sales.stage("Qualified"), sales.stage("Lost")]]])
            XCTAssertEqual(rule.code, 200, rule.text)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In")])
            R.assertError(try await C.move(api, t, id, to: sales.stage("Proposal")), 422, "invalid_transition", field: "stage_id")
            R.assertError(try await C.move(api, t, id, to: sales.stage("Won")), 422, "invalid_transition", "allowed_next_stage_ids also restricts won")
            C.expect(try await C.move(api, t, id, to: sales.stage("Qualified")), 200)
            let d2 = try await C.dealID(api, t, ["name": "D2", "stage_id": sales.stage("Lead In")])
            C.expect(try await C.move(api, t, d2, to: sales.stage("Lost")), 200)
        }
    }

    func testRequiredFieldsOnEntry() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let rule = try await api.patch("/api/v1/pipelines/\(sales.id)/stages/\(sales.stage("Proposal"))", token: t,
                                           json: ["rules": ["required_fields": ["expected_close_date", "company_id", "contacts"]]])
            XCTAssertEqual(rule.code, 200, rule.text)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Qualified")])
            let blocked = try await C.move(api, t, id, to: sales.stage("Proposal"))
            R.assertError(blocked, 422, "invalid_transition")
            XCTAssertEqual(Set(R.detailFields(blocked)), ["expected_close_date", "company_id", "contacts"], blocked.text)
            // Creating straight into the stage checks too.
            let create = try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Proposal"),
                                                                              "expected_close_date": "2030-01-01"])
            R.assertError(create, 422, "invalid_transition")
            XCTAssertEqual(Set(R.detailFields(create)), ["company_id", "contacts"], create.text)

            let company = try await R.company(api, t, ["name": "Initech"])
            let contact = try await R.contact(api, t, ["first_name": "Peter", "email": "peter@initech.com"])
            let partial = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["stage_id": sales.stage("Proposal"), "company_id": company])
            R.assertError(partial, 422, "invalid_transition")
            XCTAssertEqual(Set(R.detailFields(partial)), ["expected_close_date", "contacts"], partial.text)
            let ok = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["stage_id": sales.stage("Proposal"), "company_id": company,
                                                                                 "expected_close_date": "2030-01-01",
                                                                                 "contacts": [["contact_id": contact]]])
            XCTAssertEqual(ok.code, 200, ok.text)
            XCTAssertEqual(ok.data["stage_id"] as? String, sales.stage("Proposal"))
        }
    }

    func testWonLostClosedAtAndReopen() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Negotiation")])
            let won = try await C.move(api, t, id, to: sales.stage("Won"))
            XCTAssertEqual(won.code, 200, won.text)
            XCTAssertEqual(won.data["status"] as? String, "won")
            XCTAssertEqual(R.num(won.data["probability"]), 1)
            let closedAt = won.data["closed_at"] as? String
            XCTAssertNotNil(closedAt)
            let lost = try await C.move(api, t, id, to: sales.stage("Lost"), lostReason: "Price")
            XCTAssertEqual(lost.data["status"] as? String, "lost")
            XCTAssertEqual(lost.data["lost_reason"] as? String, "Price")
            XCTAssertEqual(R.num(lost.data["probability"]), 0)
            XCTAssertFalse(R.isNull(lost.data["closed_at"]))
            let reopened = try await C.move(api, t, id, to: sales.stage("Qualified"))
            XCTAssertEqual(reopened.code, 200, reopened.text)
            XCTAssertEqual(reopened.data["status"] as? String, "open")
            XCTAssertTrue(R.isNull(reopened.data["closed_at"]))
            XCTAssertTrue(R.isNull(reopened.data["lost_reason"]), "reopening clears the lost reason")
            // status is read-only.
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["status": "won"]), 422, "validation_failed", field: "status")
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["closed_at": "2020-01-01T00:00:00.000Z"]), 422, "validation_failed")
            // lost_reason only on lost deals.
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["lost_reason": "Price"]), 422, "validation_failed", field: "lost_reason")
            // Move body is strict.
            R.assertError(try await api.post("/api/v1/deals/\(id)/move", token: t, json: ["stage_id": sales.stage("Won"), "note": "x"]), 422,
                          "validation_failed")
            R.assertError(try await api.post("/api/v1/deals/\(id)/move", token: t, json: [String: Any]()), 422, "validation_failed")
            C.expect(try await C.move(api, t, R.fakeID("deal"), to: sales.stage("Won")), 404)
            // Stale If-Match on a move.
            let stale = try await api.send(.post, "/api/v1/deals/\(id)/move", token: t, json: ["stage_id": sales.stage("Won")], headers: ["If-Match": "\"1\""])
            XCTAssertEqual(stale.code, 409, stale.text)
            XCTAssertEqual(stale.errorCode, "version_conflict")
        }
    }

    func testLostReasonSettings() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            try await C.setSettings(api, t, ["require_lost_reason": true])
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In")])
            let missing = try await C.move(api, t, id, to: sales.stage("Lost"))
            R.assertError(missing, 422, "invalid_transition", field: "lost_reason")
            R.assertError(try await api.post("/api/v1/deals", token: t, json: ["name": "X", "stage_id": sales.stage("Lost")]), 422, "invalid_transition")
            let free = try await C.move(api, t, id, to: sales.stage("Lost"), lostReason: "Went dark")
            XCTAssertEqual(free.code, 200, free.text)
            XCTAssertEqual(free.data["lost_reason"] as? String, "Went dark", "free text while no list is set")
            C.expect(try await C.move(api, t, id, to: sales.stage("Lead In")), 200)

            try await C.setSettings(api, t, ["lost_reasons": ["Price", "Timing"]])
            let bad = try await C.move(api, t, id, to: sales.stage("Lost"), lostReason: "Other")
            XCTAssertEqual(bad.code, 422, bad.text)
            XCTAssertNotNil(R.detail(bad, "lost_reason"), bad.text)
            let good = try await C.move(api, t, id, to: sales.stage("Lost"), lostReason: "Timing")
            XCTAssertEqual(good.code, 200, good.text)
            XCTAssertEqual(good.data["lost_reason"] as? String, "Timing")
            // Changing the reason on a lost deal is checked too.
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["lost_reason": "Nope"]), 422, "validation_failed", field: "lost_reason")
            C.expect(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["lost_reason": "Price"]), 200)
            // Without the requirement, losing without a reason is fine.
            try await C.setSettings(api, t, ["require_lost_reason": false])
            let d2 = try await C.dealID(api, t, ["name": "D2", "stage_id": sales.stage("Lead In")])
            C.expect(try await C.move(api, t, d2, to: sales.stage("Lost")), 200)
        }
    }

    func testContactsLinks() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let a = try await R.contact(api, t, ["first_name": "Ann", "email": "ann@x.com"])
            let b = try await R.contact(api, t, ["first_name": "Bob", "email": "bob@x.com"])
            let c = try await R.contact(api, t, ["first_name": "Cid", "email": "cid@x.com"])
            let d = try await C.deal(api, t, ["name": "D", "stage_id": sales.stage("Lead In"),
                                              "contacts": [["contact_id": a, "role": "champion"], ["contact_id": b]]])
            let id = d["id"] as? String ?? ""
            XCTAssertEqual(d["contact_ids"] as? [String], [a, b])
            let links = d["contacts"] as? [[String: Any]] ?? []
            XCTAssertEqual(links.first?["role"] as? String, "champion")
            XCTAssertTrue(R.isNull(links.last?["role"]))

            let added = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["add_contacts": [["contact_id": c, "role": "buyer"]],
                                                                                    "remove_contacts": [["contact_id": a]]])
            XCTAssertEqual(added.code, 200, added.text)
            XCTAssertEqual(added.data["contact_ids"] as? [String], [b, c])
            let replaced = try await api.patch("/api/v1/deals/\(id)", token: t, json: ["contacts": [["contact_id": a, "role": "signer"]]])
            XCTAssertEqual(replaced.data["contact_ids"] as? [String], [a])
            // Unknown or deleted contacts are refused.
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["add_contacts": [["contact_id": R.fakeID("con")]]]), 422,
                          "validation_failed", field: "contacts[1].contact_id", detailCode: "not_found")
            try await R.delete(api, t, "contacts", c)
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["contacts": [["contact_id": c]]]), 422, "validation_failed",
                          field: "contacts[0].contact_id")
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["contacts": [["contact_id": a, "weight": 3]]]), 422,
                          "validation_failed")
            R.assertError(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["contacts": "nope"]), 422, "validation_failed")
            // Filters and the contact's deal list.
            let byContact = try await R.listIDs(api, t, "/api/v1/deals?contact_id=\(a)")
            XCTAssertEqual(byContact, [id])
            let none = try await R.listIDs(api, t, "/api/v1/deals?contact_id=\(b)")
            XCTAssertEqual(none, [])
            let cd = try await api.get("/api/v1/contacts/\(a)/deals", token: t)
            XCTAssertEqual(R.ids(cd.items), [id], cd.text)
            // expand=contacts inlines them.
            let expanded = try await api.get("/api/v1/deals/\(id)?expand=contacts", token: t)
            XCTAssertEqual(((expanded.data["contacts"] as? [[String: Any]])?.first)?["email"] as? String, "ann@x.com", expanded.text)
        }
    }

    func testListFilters() async throws {
        try await withApp { api, _ in
            let team = try await R.team(api)
            let t = team.owner.accessToken
            let sales = try await C.defaultPipeline(api, t)
            let other = try await C.createPipeline(api, t, ["name": "Partners"])
            let company = try await R.company(api, t, ["name": "Globex", "domain": "globex.com"])
            let contact = try await R.contact(api, t, ["first_name": "Hank", "email": "hank@globex.com"])
            let a = try await C.dealID(api, t, ["name": "Alpha rollout", "stage_id": sales.stage("Lead In"), "value": 100, "tags": ["vip"],
                                                "expected_close_date": "2030-01-15", "company_id": company])
            let b = try await C.dealID(api, t, ["name": "Beta upgrade", "stage_id": sales.stage("Proposal"), "value": 500,
                                                "expected_close_date": "2030-03-01", "owner_id": team.memberID,
                                                "contacts": [["contact_id": contact]]])
            let c = try await C.dealID(api, t, ["name": "Gamma", "stage_id": sales.stage("Won"), "value": 1000, "tags": ["vip", "renewal"]])
            let d = try await C.dealID(api, t, ["name": "Delta", "stage_id": other.stage("Lead In"), "value": 50])
            let cases: [(String, Set<String>)] = [
                ("pipeline_id=\(sales.id)", [a, b, c]), ("pipeline_id=\(other.id)", [d]),
                ("stage_id=\(sales.stage("Lead In"))", [a]), ("status=open", [a, b, d]), ("status=won", [c]), ("status=lost", []),
                ("owner_id=\(team.memberID)", [b]), ("owner_id=\(team.ownerID)", [a, c, d]), ("company_id=\(company)", [a]),
                ("contact_id=\(contact)", [b]), ("tag=vip", [a, c]), ("tag=renewal", [c]),
                ("expected_close_before=2030-02-01", [a]), ("expected_close_after=2030-02-01", [b]),
                ("expected_close_after=2030-01-15&expected_close_before=2030-03-01", [a, b]),
                ("value_gte=500", [b, c]), ("value_lte=100", [a, d]), ("value_gte=100&value_lte=500", [a, b]),
                ("is_stale=false", [a, b, c, d]), ("is_stale=true", []),
                ("q=alpha", [a]), ("q=UPGRADE", [b]), ("q=ta", [b, d]),
                ("status=open&pipeline_id=\(sales.id)", [a, b]),
            ]
            for (query, expected) in cases {
                let got = try await R.listIDs(api, t, "/api/v1/deals?\(query)")
                XCTAssertEqual(got, expected, query)
            }
            for bad in ["status=maybe", "value_gte=abc", "is_stale=perhaps", "expected_close_before=tomorrow", "pipeline_id=nope",
                        "stage_id=\(R.fakeID("stg"))", "contact_id=con_bad", "q=a", "shoe_size=9", "sort=shoe_size"] {
                R.assertError(try await api.get("/api/v1/deals?\(bad)", token: t), 400, "bad_request", bad)
            }
            // Sorting by value.
            let sorted = try await api.get("/api/v1/deals?sort=-value", token: t)
            XCTAssertEqual(R.ids(sorted.items), [c, b, a, d])
            // company deals route.
            let cd = try await api.get("/api/v1/companies/\(company)/deals", token: t)
            XCTAssertEqual(R.ids(cd.items), [a], cd.text)
        }
    }

    func testExpand() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let me = try await F.userID(api, t)
            let sales = try await C.defaultPipeline(api, t)
            let company = try await R.company(api, t, ["name": "Hooli"])
            let contact = try await R.contact(api, t, ["first_name": "Gavin", "email": "gavin@hooli.com"])
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Proposal"), "company_id": company,
                                                 "contacts": [["contact_id": contact, "role": "ceo"]]])
            let r = try await api.get("/api/v1/deals?expand=stage,pipeline,company,contacts,owner", token: t)
            XCTAssertEqual(r.code, 200, r.text)
            let d = r.items.first { $0["id"] as? String == id } ?? [:]
            XCTAssertEqual((d["stage"] as? [String: Any])?["name"] as? String, "Proposal")
            XCTAssertEqual(R.num((d["stage"] as? [String: Any])?["probability"]), 0.6)
            XCTAssertEqual((d["pipeline"] as? [String: Any])?["id"] as? String, sales.id)
            XCTAssertEqual((d["company"] as? [String: Any])?["name"] as? String, "Hooli")
            XCTAssertEqual(((d["contacts"] as? [[String: Any]])?.first)?["id"] as? String, contact)
            XCTAssertEqual((d["owner"] as? [String: Any])?["id"] as? String, me)
            XCTAssertEqual(d["stage_id"] as? String, sales.stage("Proposal"), "ids stay alongside")
            let one = try await api.get("/api/v1/deals/\(id)?expand=stage,company", token: t)
            XCTAssertEqual((one.data["company"] as? [String: Any])?["id"] as? String, company, one.text)
            R.assertError(try await api.get("/api/v1/deals?expand=lineitems", token: t), 400, "bad_request")
            let sparse = try await api.get("/api/v1/deals/\(id)?fields=id,name,value", token: t)
            XCTAssertEqual(Set(sparse.data.keys), ["id", "name", "value"], sparse.text)
        }
    }

    func testStageHistoryAuditAndEventsOfMoves() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let me = try await F.userID(api, t)
            let sales = try await C.defaultPipeline(api, t)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In"), "value": 10])
            try await Task.sleep(nanoseconds: 1_100_000_000)
            C.expect(try await C.move(api, t, id, to: sales.stage("Qualified")), 200)
            C.expect(try await C.move(api, t, id, to: sales.stage("Won")), 200)
            C.expect(try await api.patch("/api/v1/deals/\(id)", token: t, json: ["name": "Renamed"]), 200)
            let hist = try await C.stageHistory(api, t, id)
            XCTAssertEqual(hist.count, 3, "\(hist)")
            guard hist.count == 3 else { return }
            // Newest first.
            XCTAssertEqual(hist.map { $0["to_stage_id"] as? String ?? "" }, [sales.stage("Won"), sales.stage("Qualified"), sales.stage("Lead In")])
            XCTAssertEqual(hist.map { $0["from_stage_id"] as? String ?? "nil" }, [sales.stage("Qualified"), sales.stage("Lead In"), "nil"])
            XCTAssertTrue(R.isNull(hist.last?["time_in_previous_stage_seconds"]))
            XCTAssertGreaterThanOrEqual(R.int(hist[1]["time_in_previous_stage_seconds"]) ?? -1, 1, "a second passed in Lead In")
            XCTAssertNotNil(R.int(hist[0]["time_in_previous_stage_seconds"]))
            XCTAssertEqual(hist.first?["moved_by"] as? String, me)
            XCTAssertNotNil(hist.first?["moved_at"] as? String)
            // Paging.
            let p1 = try await api.get("/api/v1/deals/\(id)/stage-history?limit=2", token: t)
            XCTAssertEqual(p1.items.count, 2)
            let c1 = F.nextCursor(p1) ?? ""
            let p2 = try await api.get("/api/v1/deals/\(id)/stage-history?limit=2&cursor=\(R.q(c1))", token: t)
            XCTAssertEqual(R.ids(p2.items), [hist[2]["id"] as? String ?? ""])
            C.expect(try await api.get("/api/v1/deals/\(R.fakeID("deal"))/stage-history", token: t), 404)
            // Audit: created + 3 updates (two moves and a rename).
            let created = try await R.audit(api, t, "action=deal.created&object_id=\(id)")
            XCTAssertEqual(created.count, 1, "\(created)")
            let updated = try await R.audit(api, t, "action=deal.updated&object_id=\(id)")
            XCTAssertEqual(updated.count, 3, "\(updated)")
            // Field history records the moves.
            let fieldHistory = try await R.history(api, t, "deals", id)
            XCTAssertTrue(fieldHistory.contains { $0["field"] as? String == "stage_id" && $0["new"] as? String == sales.stage("Won") }, "\(fieldHistory)")
            XCTAssertTrue(fieldHistory.contains { $0["field"] as? String == "status" && $0["new"] as? String == "won" }, "\(fieldHistory)")
        }
    }

    func testScore() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In"), "value": 100, "expected_close_date": "2099-01-01"])
            let r = try await api.get("/api/v1/deals/\(id)/score", token: t)
            XCTAssertEqual(r.code, 200, r.text)
            let score = R.int(r.data["score"]) ?? -1
            XCTAssertTrue((0...100).contains(score), r.text)
            let factors = r.data["factors"] as? [[String: Any]] ?? []
            XCTAssertEqual(Set(factors.compactMap { $0["name"] as? String }), ["activity_recency", "stage_age", "value", "close_date"])
            XCTAssertEqual(factors.reduce(0) { $0 + (R.int($1["points"]) ?? 0) }, score)
            for f in factors { XCTAssertLessThanOrEqual(R.int(f["points"]) ?? 99, R.int(f["max_points"]) ?? 0) }
            XCTAssertEqual(R.int(factors.first { $0["name"] as? String == "close_date" }?["points"]), 25)
            let slipped = try await C.dealID(api, t, ["name": "Late", "stage_id": sales.stage("Lead In"), "value": 100, "expected_close_date": "2000-01-01"])
            let s2 = try await api.get("/api/v1/deals/\(slipped)/score", token: t)
            let f2 = s2.data["factors"] as? [[String: Any]] ?? []
            XCTAssertEqual(R.int(f2.first { $0["name"] as? String == "close_date" }?["points"]), 0)
            C.expect(try await C.move(api, t, id, to: sales.stage("Won")), 200)
            let won = try await api.get("/api/v1/deals/\(id)/score", token: t)
            XCTAssertEqual(R.int(won.data["score"]), 100)
            C.expect(try await api.get("/api/v1/deals/\(R.fakeID("deal"))/score", token: t), 404)
        }
    }

    func testTimelineMergesMovesActivitiesTasksNotesAndChanges() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In")])
            C.expect(try await C.move(api, t, id, to: sales.stage("Qualified")), 200)
            _ = try await C.activity(api, t, related: [("deal", id)])
            _ = try await C.task(api, t, ["title": "Follow up", "related_to": ["type": "deal", "id": id]])
            _ = try await R.note(api, t, type: "deal", id: id)
            let r = try await api.get("/api/v1/deals/\(id)/timeline?limit=100", token: t)
            XCTAssertEqual(r.code, 200, r.text)
            let types = Set(r.items.compactMap { $0["type"] as? String })
            XCTAssertEqual(types, ["stage_move", "activity", "task", "note", "change"], r.text)
            let ats = r.items.compactMap { $0["at"] as? String }
            XCTAssertEqual(ats, ats.sorted(by: >), "newest first")
            // Paged with limit 2 covers the same items.
            let all = try await R.collect(api, t, "/api/v1/deals/\(id)/timeline", limit: 2)
            XCTAssertEqual(all.ids, R.ids(r.items))
        }
    }

    func testDeleteRestoreAndDealsOfDeletedCompaniesStay() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            let sales = try await C.defaultPipeline(api, t)
            let company = try await R.company(api, t, ["name": "Soylent"])
            let id = try await C.dealID(api, t, ["name": "D", "stage_id": sales.stage("Lead In"), "company_id": company])
            try await R.delete(api, t, "companies", company)
            let d = try await R.get(api, t, "deals", id)
            XCTAssertEqual(d["company_id"] as? String, company, "deleting a company never deletes or unlinks deals")
            try await R.delete(api, t, "deals", id)
            C.expect(try await api.get("/api/v1/deals/\(id)", token: t), 404)
            let restored = try await api.post("/api/v1/deals/\(id)/restore", token: t)
            XCTAssertEqual(restored.code, 200, restored.text)
            let stages = try await C.stages(api, t, sales.id)
            XCTAssertEqual(R.int(stages.first?["deal_count"]), 1)
        }
    }
}
