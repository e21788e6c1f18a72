import Foundation
import KeelCore

struct ConvertBody: StrictDecodable {
    let create_deal: Bool?
    let deal_name: String?
    let pipeline_id: String?
    let stage_id: String?
    let company_id: String?
    let contact_id: String?
    static let allowedKeys: Set<String> = ["create_deal", "deal_name", "pipeline_id", "stage_id", "company_id", "contact_id"]
}

struct LeadsController {
    let routes: RecordRoutes
    let conversion: LeadConversion

    func register(on r: APIRouter) {
        routes.register(on: r)
        r.post("/api/v1/leads/{id}/convert", .write("leads")) { req in
            // Scopes (403) first, then the path id (404), then the body (415/400/422). deals:write depends on the body and is
            // checked by the conversion itself.
            let p = try req.caller()
            try p.require(Scope("contacts", .write))
            try p.require(Scope("companies", .write))
            _ = try await routes.service.get(p, id: try routes.id(req))
            let body = try req.decodeOptional(ConvertBody.self)
            let result = try await conversion.convert(try req.caller(), leadID: try routes.id(req),
                                                      input: ConvertInput(createDeal: body?.create_deal ?? false, dealName: body?.deal_name,
                                                                          pipelineID: body?.pipeline_id, stageID: body?.stage_id,
                                                                          companyID: body?.company_id, contactID: body?.contact_id),
                                                      meta: req.meta)
            let s = req.services
            return try req.ok(JSONValue.object([
                "lead": s.leads.render(result.lead), "contact": s.contacts.render(result.contact),
                "company": result.company.map(s.companies.render) ?? .null, "deal": result.deal.map(s.deals.render) ?? .null,
            ]), version: result.lead.version)
        }
    }
}

struct TasksController {
    let routes: RecordRoutes
    func register(on r: APIRouter) { routes.register(on: r) }
}

struct ActivitiesController {
    let routes: RecordRoutes

    func register(on r: APIRouter) {
        r.get("/api/v1/activities/types", .read("activities")) { req in
            try req.list(Page(items: ActivityBehavior.types.map { JSONValue.object(["type": .string($0.0), "description": .string($0.1)]) }, nextCursor: nil))
        }
        routes.register(on: r)
    }
}

struct DealScoreRoute {
    let scorer: DealScorer
    let routes: RecordRoutes

    func register(on r: APIRouter) {
        r.get("/api/v1/deals/{id}/score", .read("deals")) { req in
            let (score, factors) = try await scorer.score(try req.caller(), dealID: try routes.id(req))
            return try req.ok(JSONValue.object([
                "deal_id": .string(try routes.id(req)), "score": .number(String(score)),
                "factors": .array(factors.map { f in
                    .object(["name": .string(f.name), "points": .number(String(f.points)), "max_points": .number(String(f.maxPoints)),
                             "detail": .string(f.detail)])
                }),
            ]))
        }
    }
}
