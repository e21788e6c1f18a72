import Foundation

/// The public JSON of a record, shared by responses and event payloads.
public enum RecordJSON {
    public static func render(_ r: Record, behavior: any ObjectBehavior) -> [String: JSONValue] {
        let schema = behavior.schema
        var out: [String: JSONValue] = [
            "id": .string(r.id),
            "created_at": .string(Timestamp.format(r.createdAt)),
            "updated_at": .string(Timestamp.format(r.updatedAt)),
            "created_by": r.createdBy.map { .string($0.rawValue) } ?? .null,
            "version": .number(String(r.version)),
            "deleted_at": r.deletedAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
        out.reserveCapacity(schema.fields.count + 12)
        for f in schema.fields { out[f.name] = r.values[f.name] ?? .null }
        if schema.hasTags { out["tags"] = .array(r.tags.map(JSONValue.string)) }
        if schema.hasCustomFields { out["custom_fields"] = .object(r.customFields) }
        if schema.mergeable { out["merged_into"] = r.mergedInto.map(JSONValue.string) ?? .null }
        behavior.render(r, into: &out)
        return out
    }
}
