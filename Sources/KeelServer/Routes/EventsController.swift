import Foundation
import KeelCore

struct EventsController {
    let service: EventService

    func register(on r: APIRouter) {
        r.get("/api/v1/events", .read("webhooks")) { req in
            let types = (req.query("type") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var objectID: String?
            if let raw = req.query("object_id") {
                guard raw.count <= 64, raw.contains("_") else { throw APIError.badRequest("object_id is not a record id.", field: "object_id") }
                objectID = raw
            }
            let filter = EventFilter(types: types, objectID: objectID, after: try req.queryDate("created_after"), before: try req.queryDate("created_before"))
            let page = try await service.list(try req.caller(), filter: filter, page: try req.page())
            return try req.list(page.map(EventService.render))
        }
        r.get("/api/v1/events/{id}", .read("webhooks")) { req in
            try req.ok(EventService.render(try await service.get(try req.caller(), id: try req.id("id", as: EventKind.self))))
        }
        r.get("/api/v1/event-types", .read("webhooks")) { req in
            try req.list(Page(items: EventCatalog.all.map { e in
                JSONValue.object(["type": .string(e.type), "description": .string(e.description), "sample_payload": EventCatalog.sample(e.type)])
            }, nextCursor: nil))
        }
    }
}
