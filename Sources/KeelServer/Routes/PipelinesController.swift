import Foundation
import KeelCore

struct PipelinesController {
    let service: PipelineService

    func stageInputs(_ raw: [JSONValue]?) throws -> [StageInput]? {
        guard let raw else { return nil }
        return try raw.enumerated().map { i, value in
            guard case .object(let o) = value else { throw APIError.validation("stages[\(i)]", "invalid_type", "Each stage is an object.") }
            let data = try KeelJSON.encoder.encode(value)
            do {
                return try StrictJSON.decode(StageBody.self, from: data).input(raw: o)
            } catch let e as APIError {
                throw APIError(e.kind, e.message, details: e.details.map { d in
                    var d = d
                    d.field = "stages[\(i)]." + (d.field ?? "")
                    return d
                })
            }
        }
    }

    func rawBody(_ req: APIRequest) throws -> [String: JSONValue] {
        (try? req.jsonObject()) ?? [:]
    }

    func register(on r: APIRouter) {
        r.get("/api/v1/pipelines", .read("pipelines")) { req in
            let views = try await service.list(try req.caller())
            return try req.list(Page(items: views.map { service.render($0.pipeline, $0.stages, totals: $0.totals) }, nextCursor: nil))
        }
        r.post("/api/v1/pipelines", .write("pipelines")) { req in
            let body = try req.decode(PipelineBody.self)
            let view = try await service.create(try req.caller(), name: body.name, currency: body.currency, isDefault: body.is_default,
                                                stages: try stageInputs(body.stages), meta: req.meta)
            return try req.created(service.render(view.pipeline, view.stages, totals: view.totals), location: "/api/v1/pipelines/\(view.pipeline.id.rawValue)")
        }
        r.get("/api/v1/pipelines/{id}", .read("pipelines")) { req in
            let view = try await service.get(try req.caller(), id: try req.id("id", as: PipelineKind.self).rawValue)
            return try req.ok(service.render(view.pipeline, view.stages, totals: view.totals), version: view.pipeline.version)
        }
        r.patch("/api/v1/pipelines/{id}", .write("pipelines")) { req in
            let id = try req.id("id", as: PipelineKind.self).rawValue
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            try await service.requireExists(try req.caller(), pipelineID: id)
            let body = try req.decode(PipelineBody.self)
            if body.stages != nil { throw APIError.validation("stages", "not_allowed", "Change stages through /pipelines/{id}/stages.") }
            let view = try await service.update(try req.caller(), id: id, name: body.name, currency: body.currency, isDefault: body.is_default,
                                                expectedVersion: try req.ifMatch() ?? body.version, meta: req.meta)
            return try req.ok(service.render(view.pipeline, view.stages, totals: nil), version: view.pipeline.version)
        }
        r.delete("/api/v1/pipelines/{id}", .write("pipelines")) { req in
            let id = try req.id("id", as: PipelineKind.self).rawValue
            try await service.delete(try req.caller(), id: id, moveDealsTo: req.query("move_deals_to"), meta: req.meta)
            return .noContent
        }
        r.get("/api/v1/pipelines/{id}/stages", .read("pipelines")) { req in
            let view = try await service.stages(try req.caller(), pipelineID: try req.id("id", as: PipelineKind.self).rawValue)
            let items = view.stages.map { service.renderStage($0, currency: view.pipeline.currency, totals: view.totals) }
            return try req.list(Page(items: items, nextCursor: nil))
        }
        r.post("/api/v1/pipelines/{id}/stages", .write("pipelines")) { req in
            let id = try req.id("id", as: PipelineKind.self).rawValue
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            try await service.requireExists(try req.caller(), pipelineID: id)
            let body = try req.decode(StageBody.self)
            let (view, stage) = try await service.addStage(try req.caller(), pipelineID: id, input: body.input(raw: try rawBody(req)), meta: req.meta)
            return try req.created(service.renderStage(stage, currency: view.pipeline.currency, totals: view.totals),
                                   location: "/api/v1/pipelines/\(id)/stages", version: stage.version)
        }
        r.put("/api/v1/pipelines/{id}/stages", .write("pipelines")) { req in
            let id = try req.id("id", as: PipelineKind.self).rawValue
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            try await service.requireExists(try req.caller(), pipelineID: id)
            let body = try req.decode(ReorderBody.self)
            let view = try await service.reorder(try req.caller(), pipelineID: id, stageIDs: body.stage_ids, meta: req.meta)
            let items = view.stages.map { service.renderStage($0, currency: view.pipeline.currency, totals: view.totals) }
            return try req.list(Page(items: items, nextCursor: nil))
        }
        r.patch("/api/v1/pipelines/{id}/stages/{sid}", .write("pipelines")) { req in
            let id = try req.id("id", as: PipelineKind.self).rawValue
            let sid = try req.id("sid", as: StageKind.self).rawValue
            // Both path ids are resolved before the body is read (404 comes before 415/400/422).
            try await service.requireExists(try req.caller(), pipelineID: id, stageID: sid)
            let body = try req.decode(StageBody.self)
            let (view, stage) = try await service.updateStage(try req.caller(), pipelineID: id, stageID: sid, input: body.input(raw: try rawBody(req)),
                                                              expectedVersion: try req.ifMatch() ?? body.version, meta: req.meta)
            return try req.ok(service.renderStage(stage, currency: view.pipeline.currency, totals: view.totals), version: stage.version)
        }
        r.delete("/api/v1/pipelines/{id}/stages/{sid}", .write("pipelines")) { req in
            let id = try req.id("id", as: PipelineKind.self).rawValue
            let sid = try req.id("sid", as: StageKind.self).rawValue
            try await service.deleteStage(try req.caller(), pipelineID: id, stageID: sid, moveDealsTo: req.query("move_deals_to"), meta: req.meta)
            return .noContent
        }
        r.get("/api/v1/pipelines/{id}/board", .read("pipelines")) { req in
            let p = try req.caller()
            try p.require(Scope("deals", .read))
            var perStage = 25
            if let raw = req.query("per_stage") {
                guard let n = Int(raw), (1...100).contains(n) else { throw APIError.badRequest("per_stage must be 1 to 100.", field: "per_stage") }
                perStage = n
            }
            let (pipe, columns) = try await service.board(p, pipelineID: try req.id("id", as: PipelineKind.self).rawValue, perStage: perStage)
            let deals = req.services.deals
            let stages: [JSONValue] = columns.map { col in
                guard case .object(var stage) = service.renderStage(col.stage, currency: pipe.currency, totals: [col.stage.id.rawValue: col.totals]) else {
                    return .null
                }
                stage["deals"] = .array(col.deals.items.map(deals.render))
                stage["has_more"] = .bool(col.deals.hasMore)
                stage["next_cursor"] = col.deals.nextCursor.map(JSONValue.string) ?? .null
                return .object(stage)
            }
            guard case .object(var out) = service.render(pipe, [], totals: nil) else { return .noContent }
            out["stages"] = .array(stages)
            return try req.ok(JSONValue.object(out), version: pipe.version)
        }
    }
}

struct DealsController {
    let routes: RecordRoutes
    let pipelines: PipelineService
    let lineItems: LineItemService

    func register(on r: APIRouter) {
        routes.register(on: r)
        r.post("/api/v1/deals/{id}/move", .write("deals")) { req in
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            _ = try await routes.service.get(try req.caller(), id: try routes.id(req))
            let body = try req.decode(MoveBody.self)
            var patch: [String: JSONValue] = ["stage_id": .string(body.stage_id)]
            if let reason = body.lost_reason { patch["lost_reason"] = .string(reason) }
            let record = try await routes.service.update(try req.caller(), id: try routes.id(req), body: patch, ifMatch: try req.ifMatch(), meta: req.meta)
            return try await routes.one(req, record)
        }
        r.get("/api/v1/deals/{id}/stage-history", .read("deals")) { req in
            let page = try await pipelines.stageHistory(try req.caller(), dealID: try routes.id(req), page: try req.page(), cursors: req.services.cursors)
            return try req.list(page.map { m in
                JSONValue.object([
                    "id": .string(m.id), "deal_id": .string(m.dealID), "from_stage_id": m.fromStageID.map(JSONValue.string) ?? .null,
                    "to_stage_id": .string(m.toStageID), "moved_at": .string(Timestamp.format(m.movedAt)),
                    "moved_by": m.movedBy.id.map(JSONValue.string) ?? .null, "actor": .from(m.movedBy),
                    "time_in_previous_stage_seconds": m.timeInPreviousStageSeconds.map { .number(String($0)) } ?? .null,
                ])
            })
        }
        r.get("/api/v1/deals/{id}/line-items", .read("deals")) { req in
            let (items, currency) = try await lineItems.list(try req.caller(), dealID: try routes.id(req))
            return try req.list(Page(items: items.map { lineItems.render($0, currency: currency) }, nextCursor: nil))
        }
        r.post("/api/v1/deals/{id}/line-items", .write("deals")) { req in
            let dealID = try routes.id(req)
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            _ = try await lineItems.list(try req.caller(), dealID: dealID)
            let body = try req.decode(LineItemBody.self)
            let (item, currency) = try await lineItems.create(try req.caller(), dealID: dealID, input: body.input, meta: req.meta)
            return try req.created(lineItems.render(item, currency: currency), location: "/api/v1/deals/\(dealID)/line-items")
        }
        r.patch("/api/v1/deals/{id}/line-items/{lid}", .write("deals")) { req in
            let dealID = try routes.id(req)
            let lid = try req.id("lid", as: LineItemKind.self).rawValue
            // Both path ids are resolved before the body is read (404 comes before 415/400/422).
            guard try await lineItems.list(try req.caller(), dealID: dealID).0.contains(where: { $0.id == lid }) else {
                throw APIError.notFound("Line item")
            }
            let body = try req.decode(LineItemBody.self)
            let (item, currency) = try await lineItems.update(try req.caller(), dealID: dealID, id: lid, input: body.input,
                                                              expectedVersion: try req.ifMatch() ?? body.version, meta: req.meta)
            return try req.ok(lineItems.render(item, currency: currency), version: item.version)
        }
        r.delete("/api/v1/deals/{id}/line-items/{lid}", .write("deals")) { req in
            try await lineItems.delete(try req.caller(), dealID: try routes.id(req), id: try req.id("lid", as: LineItemKind.self).rawValue, meta: req.meta)
            return .noContent
        }
        for (path, resource, filter) in [("/api/v1/contacts/{id}/deals", "contacts", "contact_id"), ("/api/v1/companies/{id}/deals", "companies", "company_id")] {
            r.get(path, .read("deals")) { req in
                let p = try req.caller()
                let parent = resource == "contacts" ? req.services.contacts : req.services.companies
                let record = try await parent.get(p, id: try RecordRoutes(parent).id(req))
                var query = try req.queryDictionary()
                for k in ["limit", "cursor", "include_total", "fields", "expand"] { query[k] = nil }
                query[filter] = record.id
                let page = try await routes.service.list(p, params: RecordListParams(query: query, page: try req.page()))
                return try await routes.many(req, page)
            }
        }
    }
}

struct ProductsController {
    let routes: RecordRoutes

    func register(on r: APIRouter) {
        routes.register(on: r)
        r.get("/api/v1/products/sku/{sku}", .read("products")) { req in
            guard let sku = req.context.parameters.get("sku"), !sku.isEmpty, sku.count <= 64 else { throw APIError.notFound("Product") }
            let p = try req.caller()
            let page = try await routes.service.list(p, params: RecordListParams(query: ["sku": sku.uppercased()], page: PageRequest(limit: 1)))
            guard let product = page.items.first else { throw APIError.notFound("Product") }
            return try await routes.one(req, product)
        }
    }
}
