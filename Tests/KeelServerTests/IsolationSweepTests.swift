import Foundation
import HTTPTypes
import KeelServer
import XCTest

/// A tenant isolation sweep generated from the OpenAPI document: every documented operation with a `{...}` path parameter is
/// called with workspace B's credentials on workspace A's ids and must answer 404 `not_found`. api.md §7 puts 404 (ids in the
/// path) before 415/400/422/409, so writes are sent `{}` and also an unknown field, malformed JSON and a text/plain body: none of
/// them may be looked at before the id is resolved. New routes are covered automatically; a route whose path parameter the
/// sweep cannot fill fails the coverage test until it is mapped (and seeded) or skipped with a reason.
final class IsolationSweepTests: XCTestCase {
    /// Every documented operation with a path parameter can be filled from workspace A's ids, or is skipped on purpose.
    func testEveryPathParameterOperationIsSweptOrSkipped() throws {
        let ops = try Sweep.operations()
        XCTAssertGreaterThan(ops.count, 0, "the OpenAPI document lists no operation with a path parameter")
        var problems: [String] = []
        for op in ops where Sweep.skipped[op.key] == nil {
            for (segment, param) in Sweep.parameters(of: op.path) where Sweep.kinds[segment] == nil {
                problems.append("\(op.key): no id kind for {\(param)} after /\(segment)/ — add it to Sweep.kinds (and seed it in A) or to Sweep.skipped")
            }
        }
        let documented = Set(ops.map(\.key))
        for key in Sweep.skipped.keys.sorted() where !documented.contains(key) {
            problems.append("\(key) is in Sweep.skipped but is not a documented operation with a path parameter (stale skip entry)")
        }
        XCTAssertTrue(problems.isEmpty, problems.joined(separator: "\n"))
    }

    /// B's owner (user token, and a `*` key where keys are accepted) on A's ids: 404 everywhere, and A's data is untouched.
    func testWorkspaceBGetsNotFoundOnEveryWorkspaceAIdRoute() async throws {
        let ops = try Sweep.operations()
        try await withApp({ $0.openSignup = true; $0.webhooksAllowPrivate = true }) { api, _ in
            let a = try await Sweep.seedA(api)
            let b = try await api.signup(email: "b-owner@example.com", workspace: "Beta")
            let bKey = try await api.createKey(b.accessToken, scopes: ["*"], name: "beta all")
            XCTAssertFalse(bKey.isEmpty, "B's key secret")

            let before = try await Sweep.snapshot(api, a, ops)
            var findings: [String] = []
            var known: Set<String> = []
            var swept = 0, calls = 0
            for op in ops {
                if Sweep.skipped[op.key] != nil { continue }
                guard let path = Sweep.fill(op.path, a.ids) else {
                    findings.append("\(op.key) -> cannot fill its path parameters from A's ids \(Sweep.parameters(of: op.path))")
                    continue
                }
                swept += 1
                for body in Sweep.bodies(for: op.method) {
                    for (who, token) in [("B user token", b.accessToken), ("B * key", bKey)] {
                        let r = try await Sweep.call(api, op.method, path, token: token, body: body)
                        calls += 1
                        let expectForbidden = who == "B * key" && Sweep.refusesKeys(op.path)
                        // Keys never reach these routes (403 comes before 404); what matters is that nothing else is answered.
                        let ok = expectForbidden ? (r.code == 403 && r.errorCode == "forbidden") : Sweep.isNotFound(r)
                        if ok { continue }
                        if Sweep.knownFindings[op.key] != nil, [400, 415, 422].contains(r.code) {
                            known.insert(op.key)
                            continue
                        }
                        findings.append("[\(who), body \(body.label)] \(op.method) \(path) -> \(r.code) \(Sweep.short(r.text))"
                                        + (expectForbidden ? " (expected 403 forbidden)" : ""))
                    }
                }
            }
            print("IsolationSweep: swept \(swept) operations with \(calls) calls; skipped \(Sweep.skipped.count); known findings \(known.sorted())")
            XCTAssertGreaterThanOrEqual(swept, 90, "the sweep covered only \(swept) operations")
            XCTAssertTrue(findings.isEmpty, "\(findings.count) isolation finding(s) — expected 404 not_found:\n" + findings.joined(separator: "\n"))
            let fixed = Set(Sweep.knownFindings.keys).subtracting(known).sorted()
            XCTAssertTrue(fixed.isEmpty, "known findings no longer reproduce (fixed?): remove them from Sweep.knownFindings: \(fixed)")

            // Nothing of A's was modified or deleted: every GET A can make on its ids answers exactly as before.
            let after = try await Sweep.snapshot(api, a, ops)
            var changed: [String] = []
            for (path, old) in before.sorted(by: { $0.key < $1.key }) {
                let new = after[path] ?? "<missing>"
                if old != new { changed.append("GET \(path)\n  before: \(Sweep.short(old))\n  after:  \(Sweep.short(new))") }
            }
            XCTAssertTrue(changed.isEmpty, "A's data changed during the sweep:\n" + changed.joined(separator: "\n"))
            try await Sweep.assertAUntouched(api, a)
        }
    }
}

/// The sweep's machinery: free of the XCTestCase so the @Sendable closures can use it.
enum Sweep {
    struct Operation: Sendable {
        let method: String
        let path: String
        var key: String { "\(method) \(path)" }
    }

    /// Operations deliberately not swept, with the reason. Keep this short: a failing route is a finding, not a skip.
    /// Candidates that are *not* here, and why:
    /// - `/auth/*` and `GET /invitations/lookup` (token in the query) have no path parameter, so they are not in the sweep at all.
    /// - `/workspaces` has no `{id}` route; `/workspace` is the caller's own workspace (no id in the path).
    /// - `GET /products/sku/{sku}` is workspace-scoped by SKU, so it is swept with A's product SKU.
    static let skipped: [String: String] = [:]

    /// Findings whose fix is pending, by operation. Only an ordering answer (400/415/422 where 404 is due) is tolerated for
    /// these; a 2xx or any other status still fails, and an entry that stops reproducing fails too, so the list only shrinks.
    static let knownFindings: [String: String] = [:]

    /// The path segment right before a parameter → (the key in A's ids, the id prefix it must carry, or nil for non-id values).
    static let kinds: [String: (key: String, prefix: String?)] = [
        "members": ("member", "mem_"), "invitations": ("invitation", "inv_"), "api-keys": ("key", "key_"), "logs": ("audit", "aud_"),
        "contacts": ("contact", "con_"), "companies": ("company", "com_"), "deals": ("deal", "deal_"), "leads": ("lead", "lead_"),
        "tasks": ("task", "task_"), "activities": ("activity", "act_"), "notes": ("note", "note_"), "products": ("product", "prd_"),
        "sku": ("sku", nil), "line-items": ("line_item", "li_"), "pipelines": ("pipeline", "pipe_"), "stages": ("stage", "stg_"),
        "custom-fields": ("custom_field", "cf_"), "webhooks": ("webhook", "whk_"), "deliveries": ("delivery", "dlv_"),
        "automations": ("automation", "aut_"), "runs": ("run", "run_"), "events": ("event", "evt_"),
    ]

    /// Routes that refuse API keys by design (403): the key call expects 403, the user-token call still expects 404.
    static func refusesKeys(_ path: String) -> Bool {
        path.hasPrefix("/api/v1/api-keys") || path.hasPrefix("/api/v1/auth/") || path == "/api/v1/workspaces" || path.hasPrefix("/api/v1/workspaces/")
    }

    static func operations() throws -> [Operation] {
        let doc = try JSONSerialization.jsonObject(with: Data(try KeelServer.openAPIJSON().utf8)) as? [String: Any] ?? [:]
        let paths = doc["paths"] as? [String: Any] ?? [:]
        var out: [Operation] = []
        for (path, item) in paths where path.contains("{") {
            let methods = (item as? [String: Any] ?? [:]).keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) }
            for m in methods { out.append(Operation(method: m.uppercased(), path: path)) }
        }
        // Reads first, then writes, deletes last: a leaking write must not hide a leaking read.
        let rank = ["GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2]
        return out.sorted { (rank[$0.method] ?? 3, $0.path) < (rank[$1.method] ?? 3, $1.path) }
    }

    /// (segment before the parameter, parameter name) for each `{...}` in the path.
    static func parameters(of path: String) -> [(String, String)] {
        let parts = path.split(separator: "/").map(String.init)
        var out: [(String, String)] = []
        for (i, p) in parts.enumerated() where p.hasPrefix("{") && p.hasSuffix("}") {
            out.append((i > 0 ? parts[i - 1] : "", String(p.dropFirst().dropLast())))
        }
        return out
    }

    static func fill(_ path: String, _ ids: [String: String]) -> String? {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for i in parts.indices where parts[i].hasPrefix("{") && parts[i].hasSuffix("}") {
            guard i > 0, let kind = kinds[parts[i - 1]], let id = ids[kind.key], !id.isEmpty else { return nil }
            parts[i] = id
        }
        return parts.joined(separator: "/")
    }

    /// A request body variant. §7: the path id (404) is resolved before the media type (415), the JSON (400) and the fields (422).
    struct Body: Sendable {
        let label: String
        let raw: String?
        let contentType: String?
    }

    static func bodies(for method: String) -> [Body] {
        guard ["POST", "PATCH", "PUT"].contains(method) else { return [Body(label: "none", raw: nil, contentType: nil)] }
        return [
            Body(label: "{}", raw: "{}", contentType: "application/json"),
            Body(label: "unknown field", raw: #"{"sweep_unknown_field": true}"#, contentType: "application/json"),
            Body(label: "malformed JSON", raw: "{not json", contentType: "application/json"),
            Body(label: "text/plain", raw: "hello", contentType: "text/plain"),
        ]
    }

    static func call(_ api: API, _ method: String, _ path: String, token: String, body: Body) async throws -> TestResponse {
        try await api.send(HTTPRequest.Method(method)!, path, token: token, raw: body.raw, contentType: body.contentType)
    }

    static func isNotFound(_ r: TestResponse) -> Bool { r.code == 404 && r.errorCode == "not_found" }

    static func short(_ s: String, _ n: Int = 300) -> String { s.count > n ? String(s.prefix(n)) + "…" : s }

    // MARK: Workspace A

    struct WorkspaceA: Sendable {
        let owner: Session
        let ids: [String: String]
        let contactName: String
        let dealStageID: String
        let webhookDescription: String
        let keySecret: String
        /// Versions at the end of seeding (the automation run tags the contact, line items bump the deal, stages the pipeline).
        let versions: [String: Int]
    }

    /// Records with a version, by their key in `ids`, and the collection path that serves them.
    static let versioned: [(key: String, path: String)] = [
        ("contact", "contacts"), ("company", "companies"), ("deal", "deals"), ("lead", "leads"), ("task", "tasks"), ("activity", "activities"),
        ("note", "notes"), ("product", "products"), ("pipeline", "pipelines"), ("custom_field", "custom-fields"), ("automation", "automations"),
        ("webhook", "webhooks"), ("member", "members"), ("key", "api-keys"),
    ]

    static func created(_ r: TestResponse, _ what: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertTrue([200, 201, 202].contains(r.code), "\(what): \(r.text)", file: file, line: line)
        return r.data["id"] as? String ?? ""
    }

    /// One of everything that has an id in a path, all in workspace A, through the API only.
    static func seedA(_ api: API) async throws -> WorkspaceA {
        let owner = try await api.signup(email: "a-owner@example.com", workspace: "Alpha")
        let t = owner.accessToken
        var ids: [String: String] = [:]

        _ = try await api.addMember(t, email: "a-member@example.com", role: "member")
        let members = try await api.get("/api/v1/members?limit=100", token: t)
        ids["member"] = members.items.first { ($0["email"] as? String) == "a-member@example.com" }?["id"] as? String
        let inv = try await api.post("/api/v1/invitations", token: t, json: ["email": "a-invitee@example.com", "role": "viewer"])
        ids["invitation"] = created(inv, "invitation")
        let keySecret = try await api.createKey(t, scopes: ["*"], name: "alpha key")
        let keys = try await api.get("/api/v1/api-keys", token: t)
        ids["key"] = keys.items.first { ($0["name"] as? String) == "alpha key" }?["id"] as? String

        let contactName = "Ada"
        ids["contact"] = created(try await api.post("/api/v1/contacts", token: t, json: ["first_name": contactName, "last_name": "Lovelace",
                                                                                          "email": "ada@alpha.example"]), "contact")
        ids["company"] = created(try await api.post("/api/v1/companies", token: t, json: ["name": "Analytical Engines", "domain": "alpha.example"]),
                                 "company")
        let pipes = try await api.get("/api/v1/pipelines", token: t)
        let stages = (pipes.items.first?["stages"] as? [[String: Any]]) ?? []
        let openStage = stages.first { ($0["type"] as? String) == "open" }?["id"] as? String ?? ""
        let deal = try await api.post("/api/v1/deals", token: t, json: ["name": "Alpha deal", "stage_id": openStage])
        ids["deal"] = created(deal, "deal")
        ids["lead"] = created(try await api.post("/api/v1/leads", token: t, json: ["name": "Alpha lead", "email": "lead@alpha.example"]), "lead")
        ids["task"] = created(try await api.post("/api/v1/tasks", token: t, json: ["title": "Call Ada",
                                                                                    "related_to": ["type": "contact", "id": ids["contact"] ?? ""]]), "task")
        ids["activity"] = created(try await api.post("/api/v1/activities", token: t, json: ["type": "call", "subject": "Intro",
                                                                                              "related_to": [["type": "contact", "id": ids["contact"] ?? ""]]]),
                                  "activity")
        ids["note"] = created(try await api.post("/api/v1/notes", token: t, json: ["body": "Alpha note",
                                                                                    "related_to": ["type": "contact", "id": ids["contact"] ?? ""]]), "note")
        let product = try await api.post("/api/v1/products", token: t, json: ["name": "Anvil", "sku": "ALPHA-ANVIL", "price": 10])
        ids["product"] = created(product, "product")
        ids["sku"] = product.data["sku"] as? String
        ids["line_item"] = created(try await api.post("/api/v1/deals/\(ids["deal"] ?? "")/line-items", token: t,
                                                      json: ["product_id": ids["product"] ?? "", "quantity": 2]), "line item")
        ids["pipeline"] = created(try await api.post("/api/v1/pipelines", token: t, json: ["name": "Alpha partners"]), "pipeline")
        ids["stage"] = created(try await api.post("/api/v1/pipelines/\(ids["pipeline"] ?? "")/stages", token: t, json: ["name": "Alpha demo"]),
                               "stage")
        ids["custom_field"] = created(try await api.post("/api/v1/custom-fields", token: t, json: ["object_type": "contact", "key": "alpha_tier",
                                                                                                    "label": "Tier", "type": "text"]), "custom field")
        let webhookDescription = "alpha hook"
        ids["webhook"] = created(try await api.post("/api/v1/webhooks", token: t, json: ["url": "http://127.0.0.1:9/hook", "events": ["contact.created"],
                                                                                          "description": webhookDescription]), "webhook")
        ids["delivery"] = created(try await api.post("/api/v1/webhooks/\(ids["webhook"] ?? "")/test", token: t), "webhook test delivery")
        ids["automation"] = created(try await api.post("/api/v1/automations", token: t, json: [
            "name": "Alpha tagger", "trigger": ["event": "contact.created"], "actions": [["type": "add_tags", "config": ["tags": ["seen"]]]],
        ]), "automation")
        ids["run"] = created(try await api.post("/api/v1/automations/\(ids["automation"] ?? "")/run", token: t, json: ["object_id": ids["contact"] ?? ""]),
                             "automation run")
        ids["event"] = try await api.get("/api/v1/events?limit=1", token: t).items.first?["id"] as? String
        ids["audit"] = try await api.get("/api/v1/audit/logs?limit=1", token: t).items.first?["id"] as? String

        for (segment, kind) in kinds.sorted(by: { $0.key < $1.key }) {
            let id = ids[kind.key] ?? ""
            XCTAssertFalse(id.isEmpty, "A has no \(kind.key) for /\(segment)/{...}")
            if let prefix = kind.prefix { XCTAssertTrue(id.hasPrefix(prefix), "A's \(kind.key) id \(id) should start with \(prefix)") }
        }
        var versions: [String: Int] = [:]
        for v in versioned {
            let r = try await api.get("/api/v1/\(v.path)/\(ids[v.key] ?? "")", token: t)
            XCTAssertEqual(r.code, 200, "A's \(v.key): \(r.text)")
            versions[v.key] = r.data["version"] as? Int
        }
        return WorkspaceA(owner: owner, ids: ids, contactName: contactName, dealStageID: openStage, webhookDescription: webhookDescription,
                          keySecret: keySecret, versions: versions)
    }

    /// Every GET operation filled with A's ids, plus A's event and audit lists, as A sees them (status and body).
    static func snapshot(_ api: API, _ a: WorkspaceA, _ ops: [Operation]) async throws -> [String: String] {
        var out: [String: String] = [:]
        // The deal score is computed from the clock at read time (its inputs are in GET /deals/{id}), so it is left out.
        var paths = ops.filter { $0.method == "GET" && skipped[$0.key] == nil && !$0.path.hasSuffix("/score") }.compactMap { fill($0.path, a.ids) }
        paths += ["/api/v1/events?limit=200", "/api/v1/audit/logs?limit=200", "/api/v1/members?limit=100", "/api/v1/invitations?limit=100",
                  "/api/v1/api-keys?include_revoked=true", "/api/v1/webhooks", "/api/v1/automations", "/api/v1/pipelines", "/api/v1/custom-fields",
                  "/api/v1/workspace"]
        for path in paths {
            let r = try await api.get(path, token: a.owner.accessToken)
            out[path] = "\(r.code) \(r.text)"
        }
        return out
    }

    /// Named checks on top of the snapshot, so a failure reads plainly.
    static func assertAUntouched(_ api: API, _ a: WorkspaceA) async throws {
        let t = a.owner.accessToken
        let contact = try await api.get("/api/v1/contacts/\(a.ids["contact"] ?? "")", token: t)
        XCTAssertEqual(contact.code, 200, contact.text)
        XCTAssertEqual(contact.data["first_name"] as? String, a.contactName, contact.text)
        let deal = try await api.get("/api/v1/deals/\(a.ids["deal"] ?? "")", token: t)
        XCTAssertEqual(deal.code, 200, deal.text)
        XCTAssertEqual(deal.data["stage_id"] as? String, a.dealStageID, deal.text)
        let webhook = try await api.get("/api/v1/webhooks/\(a.ids["webhook"] ?? "")", token: t)
        XCTAssertEqual(webhook.code, 200, webhook.text)
        XCTAssertEqual(webhook.data["description"] as? String, a.webhookDescription, webhook.text)
        let deliveries = try await api.get("/api/v1/webhooks/\(a.ids["webhook"] ?? "")/deliveries", token: t)
        XCTAssertEqual(deliveries.items.count, 1, "only A's own test delivery: \(deliveries.text)")
        let runs = try await api.get("/api/v1/automations/\(a.ids["automation"] ?? "")/runs", token: t)
        XCTAssertEqual(runs.items.count, 1, "only A's own run: \(runs.text)")
        let key = try await api.get("/api/v1/api-keys/\(a.ids["key"] ?? "")", token: t)
        XCTAssertTrue(key.data["revoked_at"] == nil || key.data["revoked_at"] is NSNull, key.text)
        let keyStillWorks = try await api.get("/api/v1/contacts", token: a.keySecret)
        XCTAssertEqual(keyStillWorks.code, 200, "A's key must still work: \(keyStillWorks.text)")
        let inv = try await api.get("/api/v1/invitations/\(a.ids["invitation"] ?? "")", token: t)
        XCTAssertEqual(inv.data["status"] as? String, "pending", inv.text)
        let member = try await api.get("/api/v1/members/\(a.ids["member"] ?? "")", token: t)
        XCTAssertEqual(member.code, 200, member.text)
        XCTAssertEqual(member.data["role"] as? String, "member", member.text)
        for v in versioned {
            let r = try await api.get("/api/v1/\(v.path)/\(a.ids[v.key] ?? "")", token: t)
            XCTAssertEqual(r.code, 200, "A's \(v.key): \(r.text)")
            XCTAssertEqual(r.data["version"] as? Int, a.versions[v.key], "A's \(v.key) must not have been modified: \(r.text)")
        }
    }
}
