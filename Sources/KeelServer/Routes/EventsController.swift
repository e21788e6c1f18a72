import Foundation
import KeelCore

struct EventsController {
    let service: EventService

    func register(on r: APIRouter) {
        r.get("/api/v1/events", .read("webhooks")) { req in
            let allowed: Set = ["type", "object_id", "created_after", "created_before", "limit", "cursor", "include_total", "fields"]
            for key in try req.queryDictionary().keys.sorted() where !allowed.contains(key) {
                throw APIError.badRequest("Unknown query parameter \(key).", field: key)
            }
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

struct SearchController {
    let search: GlobalSearch

    func register(on r: APIRouter) {
        r.get("/api/v1/search", .read("crm")) { req in
            guard let q = req.query("q") else { throw APIError.badRequest("q is required.", field: "q") }
            var types = GlobalSearch.types
            if let raw = req.query("types") {
                types = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                for t in types where !GlobalSearch.types.contains(t) {
                    throw APIError.badRequest("types may list: \(GlobalSearch.types.joined(separator: ", ")).", field: "types")
                }
            }
            var limit = 20
            if let raw = req.query("limit") {
                guard let n = Int(raw), (1...100).contains(n) else { throw APIError.badRequest("limit must be 1 to 100.", field: "limit") }
                limit = n
            }
            let hits = try await search.search(try req.caller(), q: q, types: types, limit: limit)
            return try req.list(Page(items: hits.map { h in
                JSONValue.object(["type": .string(h.type), "id": .string(h.id), "title": .string(h.title),
                                  "subtitle": h.subtitle.map(JSONValue.string) ?? .null, "score": .number(String(h.score))])
            }, nextCursor: nil))
        }
    }
}
