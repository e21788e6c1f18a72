import Foundation

extension RecordService {
    /// Names accepted by `expand=` for this type: each reference field `<name>_id` expands as `<name>`.
    public var expandable: [String: FieldSpec] {
        var out: [String: FieldSpec] = [:]
        for f in schema.fields where f.name.hasSuffix("_id") {
            if case .reference = f.kind { out[String(f.name.dropLast(3))] = f }
        }
        if let links = schema.field("contacts"), case .links = links.kind { out["contacts"] = links }
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
            let (scope, _, _) = try await readContext(p, in: tx)
            for name in names {
                guard let spec = allowed[name] else { continue }
                if case .links = spec.kind {
                    let contactBehavior = registry[.contact]
                    var idsPerRecord: [[String]] = []
                    for r in records {
                        guard case .array(let items)? = r[spec.name] else { idsPerRecord.append([]); continue }
                        idsPerRecord.append(items.compactMap { $0.objectValue?["contact_id"]?.stringValue })
                    }
                    var found: [String: JSONValue] = [:]
                    if let contactBehavior {
                        let cScope = RecordScope(schema: contactBehavior.schema, workspaceID: p.workspaceID, currency: scope.currency)
                        for c in try await tx.records.getMany(cScope, ids: Array(Set(idsPerRecord.flatMap { $0 }))) where c.deletedAt == nil {
                            guard try await contactBehavior.isVisible(c, to: p, scope: cScope, in: tx) else { continue }
                            found[c.id] = .object(RecordJSON.render(c, behavior: contactBehavior))
                        }
                    }
                    for i in rendered.indices { rendered[i][name] = .array(idsPerRecord[i].compactMap { found[$0] }) }
                    continue
                }
                guard case .reference(let prefix) = spec.kind else { continue }
                if prefix == .stage || prefix == .pipeline {
                    let ids = Array(Set(records.compactMap { $0.string(spec.name) }))
                    var found: [String: JSONValue] = [:]
                    if prefix == .stage {
                        for st in try await tx.pipelines.stages(p.workspaceID, ids: ids) {
                            found[st.id.rawValue] = .object(["id": .string(st.id.rawValue), "name": .string(st.name), "type": .string(st.type.rawValue),
                                                             "position": .number(String(st.position)), "probability": .number(Probability.format(st.probability))])
                        }
                    } else {
                        for id in ids {
                            guard let pipe = try await tx.pipelines.pipeline(p.workspaceID, id: id) else { continue }
                            found[id] = .object(["id": .string(id), "name": .string(pipe.name), "currency": .string(pipe.currency),
                                                 "is_default": .bool(pipe.isDefault)])
                        }
                    }
                    for i in rendered.indices { rendered[i][name] = records[i].string(spec.name).flatMap { found[$0] } ?? .null }
                    continue
                }
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
