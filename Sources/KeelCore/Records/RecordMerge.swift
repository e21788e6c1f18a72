import Foundation

/// Moves what hangs off merged-away records onto the survivor (deals, contacts of a company...). Later issues add theirs.
public protocol MergeLinker: Sendable {
    func move(objectType: String, from source: String, to survivor: String, scope: RecordScope, in tx: any StoreSession) async throws
}

public struct Duplicate: Sendable {
    public var record: Record
    public var score: Double
    public var reasons: [String]
}

extension RecordService {
    public static let maxMergeSources = 9

    public func merge(_ p: Principal, survivorID: String, sourceIDs: [String], linkers: [any MergeLinker], meta: RequestMeta) async throws -> Record {
        try p.require(writeScope)
        guard schema.mergeable else { throw APIError.notFound() }
        guard !sourceIDs.isEmpty, sourceIDs.count <= RecordService.maxMergeSources else {
            throw APIError.validation("source_ids", "out_of_range", "Merge 1 to \(RecordService.maxMergeSources) records at a time.")
        }
        guard Set(sourceIDs).count == sourceIDs.count else { throw APIError.validation("source_ids", "duplicate", "source_ids lists a record twice.") }
        if sourceIDs.contains(survivorID) { throw APIError.validation("source_ids", "invalid_value", "A record cannot be merged into itself.") }
        let now = clock.now()
        let notes = noteBehavior
        return try await store.write { tx in
            let (scope, _, _) = try await context(p, in: tx)
            let before = try await visible(p, id: survivorID, scope: scope, in: tx)
            var survivor = before
            var sources: [Record] = []
            for (i, id) in sourceIDs.enumerated() {
                guard let s = try await tx.records.get(scope, id: id), s.isVisible(to: p) else {
                    throw APIError.validation("source_ids[\(i)]", "not_found", "No such \(schema.type) \(id).")
                }
                guard s.deletedAt == nil else {
                    throw APIError.validation("source_ids[\(i)]", "deleted", "\(id) is deleted\(s.mergedInto.map { " (merged into \($0))" } ?? "").")
                }
                sources.append(s)
            }
            for var s in sources {
                for f in schema.fields where f.writable && survivor[f.name] == nil {
                    guard let v = s[f.name] else { continue }
                    // A link to a company that is gone (or hidden) is not worth carrying over.
                    if case .reference(.company) = f.kind {
                        let companyScope = RecordScope(schema: CompanyBehavior.schema, workspaceID: p.workspaceID, currency: scope.currency)
                        guard let target = try await tx.records.get(companyScope, id: v.stringValue ?? ""), target.deletedAt == nil, target.isVisible(to: p)
                        else { continue }
                    }
                    survivor[f.name] = v
                }
                survivor.tags = RecordInput.dedupe(survivor.tags + s.tags)
                for (k, v) in s.customFields where survivor.customFields[k] == nil { survivor.customFields[k] = v }
                s.deletedAt = now
                s.mergedInto = survivor.id
                s.version += 1
                s.updatedAt = now
                try await tx.records.update(scope, s)
                try await tx.history.append([HistoryEntry(workspaceID: p.workspaceID, objectType: schema.type, objectID: s.id, field: "merged_into",
                                                          oldValue: .null, newValue: .string(survivor.id), actor: p.actor, source: .merge, at: now)])
                if let notes {
                    let noteScope = RecordScope(schema: notes.schema, workspaceID: p.workspaceID, currency: scope.currency)
                    _ = try await tx.records.relinkRelated(noteScope, relatedType: schema.type, from: s.id, to: survivor.id)
                }
                for linker in linkers { try await linker.move(objectType: schema.type, from: s.id, to: survivor.id, scope: scope, in: tx) }
            }
            schema.derive(&survivor)
            let changes = RecordInput.diff(before, survivor, schema: schema)
            survivor.version += 1
            survivor.updatedAt = now
            try await behavior.check(survivor, previous: before, scope: scope, principal: p, in: tx)
            try await tx.records.update(scope, survivor)
            if schema.hasTags, survivor.tags != before.tags { try await tx.records.setTags(scope, id: survivor.id, tags: survivor.tags) }
            try await tx.history.append(historyRows(changes, record: survivor, p: p, source: .merge, at: now))
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "\(schema.type).merged", objectType: schema.type,
                                                 objectID: survivor.id,
                                                 changes: .object(["source_ids": .array(sourceIDs.map(JSONValue.string)), "fields": auditChanges(changes)]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            var event = baseEvent("\(schema.type).merged", survivor, p: p, previous: Dictionary(uniqueKeysWithValues: changes.map { ($0.field, $0.old) }),
                                  changed: changes.map(\.field), at: now)
            if case .object(var payload) = event.payload {
                payload["merged_ids"] = .array(sourceIDs.map(JSONValue.string))
                event.payload = .object(payload)
            }
            try await tx.outbox.append(event)
            return survivor
        }
    }

    /// Candidates for a would-be record: exact matches on unique-ish keys, then fuzzy name matches.
    public func duplicates(_ p: Principal, exact: [(field: String, value: String)], name: String?, nameFields: [String]) async throws -> [Duplicate] {
        try p.require(readScope)
        return try await store.read { tx in
            let (scope, _, _) = try await context(p, in: tx)
            var found: [String: Duplicate] = [:]
            for (field, value) in exact where !value.isEmpty {
                for r in try await tx.records.find(scope, field: field, value: value, limit: 20) where r.isVisible(to: p) {
                    var d = found[r.id] ?? Duplicate(record: r, score: 0, reasons: [])
                    d.score = min(1, d.score + (field == "email" || field == "domain" ? 1.0 : 0.9))
                    d.reasons.append("\(field)_match")
                    found[r.id] = d
                }
            }
            if let name, name.count >= 2 {
                let needle = name.lowercased()
                let prefix = String(needle.prefix(3))
                let conditions: [FilterNode] = nameFields.compactMap { f in
                    guard let spec = schema.field(f) else { return nil }
                    let target = FilterTarget.column(name: spec.name, column: spec.column, lower: spec.lowerColumn, family: .text, caseInsensitive: true)
                    return FilterNode.compare(target, .startsWith, [.text(prefix)])
                }
                let sort = SortKey(target: .column(name: "created_at", column: "created_at", lower: nil, family: .datetime, caseInsensitive: false),
                                   descending: true, nullable: false)
                let rows = try await tx.records.list(scope, RecordQuery(filter: .or(conditions), sort: sort, limit: 500, viewer: Viewer(p)))
                for r in rows {
                    let candidate = nameFields.compactMap { r.string($0) }.joined(separator: " ").lowercased()
                    let similarity = Similarity.trigram(needle, candidate)
                    guard similarity >= 0.5 else { continue }
                    var d = found[r.id] ?? Duplicate(record: r, score: 0, reasons: [])
                    d.score = min(1, max(d.score, 0) + similarity * 0.8)
                    d.reasons.append(similarity >= 0.999 ? "name_exact" : "name_similar")
                    found[r.id] = d
                }
            }
            return found.values.sorted { ($0.score, $0.record.id) > ($1.score, $1.record.id) }.prefix(20).map { $0 }
        }
    }
}

public enum Similarity {
    /// Jaccard similarity of padded character trigrams (what pg_trgm computes).
    public static func trigram(_ a: String, _ b: String) -> Double {
        func grams(_ s: String) -> Set<String> {
            let words = s.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber })
            var out = Set<String>()
            for w in words {
                let chars = Array("  " + w + " ")
                guard chars.count >= 3 else { continue }
                for i in 0...(chars.count - 3) { out.insert(String(chars[i..<(i + 3)])) }
            }
            return out
        }
        let x = grams(a), y = grams(b)
        guard !x.isEmpty || !y.isEmpty else { return 0 }
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }
}
