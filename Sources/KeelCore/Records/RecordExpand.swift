import Foundation

extension RecordService {
    /// Names accepted by `expand=` for this type: each reference field `<name>_id` expands as `<name>`.
    public var expandable: [String: FieldSpec] {
        var out: [String: FieldSpec] = [:]
        for f in schema.fields where f.name.hasSuffix("_id") {
            if case .reference = f.kind { out[String(f.name.dropLast(3))] = f }
        }
        return out
    }

    /// Inlines referenced records one level deep, with one query per expanded name (no N+1).
    public func expand(_ p: Principal, _ records: [Record], names: [String], registry: [IDPrefix: any ObjectBehavior]) async throws -> [[String: JSONValue]] {
        let base = records.map { RecordJSON.render($0, behavior: behavior) }
        guard !names.isEmpty else { return base }
        let allowed = expandable
        for name in names where allowed[name] == nil {
            throw APIError.badRequest("expand supports: \(allowed.keys.sorted().joined(separator: ", ")).", field: "expand")
        }
        return try await store.read { tx in
            var rendered = base
            let (scope, _, _) = try await context(p, in: tx)
            for name in names {
                guard let spec = allowed[name], case .reference(let prefix) = spec.kind else { continue }
                let ids = Array(Set(records.compactMap { $0.string(spec.name) }))
                var found: [String: JSONValue] = [:]
                if prefix == .user {
                    for u in try await tx.identity.users(ids.compactMap(UserID.init)) {
                        found[u.id.rawValue] = .object(["id": .string(u.id.rawValue), "name": .string(u.name), "email": .string(u.email)])
                    }
                } else if let target = registry[prefix] {
                    let targetScope = RecordScope(schema: target.schema, workspaceID: p.workspaceID, currency: scope.currency)
                    for r in try await tx.records.getMany(targetScope, ids: ids) where r.deletedAt == nil {
                        guard try await target.isVisible(r, to: p, scope: targetScope, in: tx) else { continue }
                        found[r.id] = .object(RecordJSON.render(r, behavior: target))
                    }
                }
                for i in rendered.indices {
                    let id = records[i].string(spec.name)
                    rendered[i][name] = id.flatMap { found[$0] } ?? .null
                }
            }
            return rendered
        }
    }
}
