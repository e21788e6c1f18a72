import Foundation
import KeelCore

/// The routes every CRM object type shares: list, create, search, batch, get, patch, delete, restore, history, timeline
/// (and merge and duplicate checks for mergeable types).
struct RecordRoutes {
    let service: RecordService
    let basePath: String

    init(_ service: RecordService) {
        self.service = service
        self.basePath = "/api/v1/\(service.schema.plural)"
    }

    var resource: String { service.schema.plural }

    func id(_ req: APIRequest) throws -> String {
        guard let raw = req.context.parameters.get("id"), raw.hasPrefix(service.schema.prefix.rawValue + "_"),
              ULID.isValid(raw.dropFirst(service.schema.prefix.rawValue.count + 1)) else { throw APIError.notFound() }
        return raw
    }

    func one(_ req: APIRequest, _ record: Record, status: HTTPStatusShortcut = .ok) async throws -> Reply {
        let p = try req.caller()
        let json = try await service.expand(p, [record], names: req.expandNames(), registry: req.services.registry).first ?? [:]
        switch status {
        case .ok: return try req.ok(JSONValue.object(json), version: record.version)
        case .created: return try req.created(JSONValue.object(json), location: "\(basePath)/\(record.id)", version: record.version)
        }
    }

    func many(_ req: APIRequest, _ page: Page<Record>) async throws -> Reply {
        let p = try req.caller()
        let rendered = try await service.expand(p, page.items, names: req.expandNames(), registry: req.services.registry)
        return try req.list(Page(items: rendered.map(JSONValue.object), nextCursor: page.nextCursor, total: page.total))
    }

    func register(on r: APIRouter) {
        let read = Access.read(resource), write = Access.write(resource)
        r.get(basePath, read) { req in
            var query = try req.queryDictionary()
            for k in ["limit", "cursor", "include_total", "fields", "expand"] { query[k] = nil }
            let page = try await service.list(try req.caller(), params: RecordListParams(query: query, page: try req.page()))
            return try await many(req, page)
        }
        r.post(basePath, write) { req in
            let record = try await service.create(try req.caller(), body: try req.jsonObject(), meta: req.meta)
            return try await one(req, record, status: .created)
        }
        r.post("\(basePath)/search", read) { req in
            let body = try req.decode(SearchRequestBody.self)
            let page = try await service.search(try req.caller(), body: SearchBody(filter: body.filter, sort: body.sort?.values ?? [], q: body.q,
                                                                                    limit: body.limit, cursor: body.cursor,
                                                                                    includeTotal: body.include_total ?? false))
            return try await many(req, page)
        }
        r.post("\(basePath)/batch", write) { req in
            let raw = try req.jsonObject()
            if case .array(let items)? = raw["operations"] {
                for (i, item) in items.enumerated() {
                    for key in item.objectValue?.keys.sorted() ?? [] where !["op", "id", "data"].contains(key) {
                        throw APIError.validation("operations[\(i)].\(key)", "unknown_field", "Unknown field \(key) in a batch operation.")
                    }
                }
            }
            let body = try req.decode(BatchRequestBody.self)
            var ops: [BatchOperation] = []
            for (i, op) in body.operations.enumerated() {
                guard let kind = BatchOperation.Kind(rawValue: op.op) else {
                    throw APIError.validation("operations[\(i)].op", "invalid_value", "op must be create, update or delete.")
                }
                ops.append(BatchOperation(kind: kind, id: op.id, data: op.data))
            }
            let results = try await service.batch(try req.caller(), operations: ops, meta: req.meta)
            let items = results.map { res in
                BatchItemDTO(index: res.index, status: res.status, data: res.record.map(service.render),
                             error: res.error.map { BatchItemDTO.ErrorBody(code: $0.kind.rawValue, message: $0.message, details: $0.details) })
            }
            return .json(try req.encode(Envelope(data: items)))
        }
        r.get("\(basePath)/{id}", read) { req in
            let includeDeleted = try req.queryBool("include_deleted") ?? false
            return try await one(req, try await service.get(try req.caller(), id: try id(req), includeDeleted: includeDeleted))
        }
        r.patch("\(basePath)/{id}", write) { req in
            // The path id is checked before the body (404 comes before 415/400/422).
            _ = try await service.get(try req.caller(), id: try id(req))
            let record = try await service.update(try req.caller(), id: try id(req), body: try req.jsonObject(), ifMatch: try req.ifMatch(), meta: req.meta)
            return try await one(req, record)
        }
        r.delete("\(basePath)/{id}", write) { req in
            try await service.delete(try req.caller(), id: try id(req), ifMatch: try req.ifMatch(), meta: req.meta)
            return .noContent
        }
        r.post("\(basePath)/{id}/restore", write) { req in
            try await one(req, try await service.restore(try req.caller(), id: try id(req), meta: req.meta))
        }
        r.get("\(basePath)/{id}/history", read) { req in
            try req.list(try await service.history(try req.caller(), id: try id(req), page: try req.page()).map(HistoryDTO.init))
        }
        r.get("\(basePath)/{id}/timeline", read) { req in
            try req.list(try await service.timeline(try req.caller(), id: try id(req), page: try req.page()).map(TimelineDTO.init))
        }
    }

    func registerMerge(on r: APIRouter, linkers: [any MergeLinker]) {
        r.post("\(basePath)/{id}/merge", Access.write(resource)) { req in
            _ = try await service.get(try req.caller(), id: try id(req))
            let body = try req.decode(MergeBody.self)
            let record = try await service.merge(try req.caller(), survivorID: try id(req), sourceIDs: body.source_ids, linkers: linkers, meta: req.meta)
            return try await one(req, record)
        }
    }

    func duplicatesReply(_ req: APIRequest, _ found: [Duplicate]) throws -> Reply {
        try req.list(Page(items: found.map { DuplicateDTO(record: service.render($0.record), score: ($0.score * 1000).rounded() / 1000,
                                                         reasons: $0.reasons) }, nextCursor: nil))
    }
}

enum HTTPStatusShortcut { case ok, created }
