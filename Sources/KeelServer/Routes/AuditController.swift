import KeelCore

struct AuditController {
    func register(on r: APIRouter) {
        r.get("/api/v1/audit/logs", .read("audit")) { req in
            let filter = AuditFilter(objectType: req.query("object_type"), objectID: req.query("object_id"), actorID: req.query("actor_id"),
                                     action: req.query("action"), from: try req.queryDate("from"), to: try req.queryDate("to"))
            let page = try await req.services.audit.list(try req.caller(), filter: filter, page: try req.page())
            return try req.list(page.map(AuditDTO.init))
        }
        r.get("/api/v1/audit/logs/{id}", .read("audit")) { req in
            try req.ok(AuditDTO(try await req.services.audit.get(try req.caller(), try req.id("id", as: AuditKind.self))))
        }
    }
}
