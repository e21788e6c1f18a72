import Foundation

/// Applies a create or PATCH body to a record: strict keys, per-kind normalisation, tags and custom fields.
struct RecordInput {
    let schema: ObjectSchema
    let definitions: [CustomFieldDefinition]
    let currency: String
    var extraKeys: Set<String> = []

    static let maxTags = 50
    static let maxTagLength = 50

    func apply(_ rawBody: [String: JSONValue], to record: inout Record, isCreate: Bool) throws {
        var v = Validator()
        var allowed = Set(schema.fields.filter(\.writable).map(\.name))
        if schema.hasTags { allowed.formUnion(isCreate ? ["tags"] : ["tags", "add_tags", "remove_tags"]) }
        if schema.hasCustomFields { allowed.insert("custom_fields") }
        if !isCreate { allowed.insert("version") }
        allowed.formUnion(extraKeys)
        for key in rawBody.keys.sorted() where !allowed.contains(key) {
            v.add(key, "unknown_field", "Unknown or read-only field \(key).")
        }
        try v.check()
        for spec in schema.fields where spec.writable {
            guard let raw = rawBody[spec.name] else { continue }
            if raw == .null {
                if !spec.nullable || schema.requiredOnCreate.contains(spec.name) {
                    v.add(spec.name, "not_nullable", "\(spec.name) cannot be null.")
                } else {
                    record.values[spec.name] = .null
                }
                continue
            }
            if let normalized = FieldValues.normalize(raw, kind: spec.kind, field: spec.name, currency: currency, into: &v) {
                if normalized == .null && schema.requiredOnCreate.contains(spec.name) {
                    v.add(spec.name, "required", "\(spec.name) must not be empty.")
                } else {
                    record.values[spec.name] = normalized
                }
            }
        }
        if isCreate {
            for name in schema.requiredOnCreate where record[name] == nil && !v.details.contains(where: { $0.field == name }) {
                v.add(name, "required", "\(name) is required.")
            }
        }
        if schema.hasTags { applyTags(rawBody, to: &record, into: &v) }
        if schema.hasCustomFields { applyCustomFields(rawBody["custom_fields"], to: &record, isCreate: isCreate, into: &v) }
        try v.check()
    }

    func tagList(_ value: JSONValue, field: String, into v: inout Validator) -> [String]? {
        guard case .array(let items) = value else {
            v.add(field, "invalid_type", "\(field) must be an array of strings.")
            return nil
        }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item else {
                v.add(field, "invalid_type", "\(field) must be an array of strings.")
                return nil
            }
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.isEmpty || t.count > RecordInput.maxTagLength {
                v.add(field, "invalid_value", "Tags must be 1 to \(RecordInput.maxTagLength) characters.")
                return nil
            }
            out.append(t)
        }
        return out
    }

    /// Case-insensitive dedupe, keeping the first spelling.
    static func dedupe(_ tags: [String]) -> [String] {
        var seen = Set<String>()
        return tags.filter { seen.insert($0.lowercased()).inserted }
    }

    func applyTags(_ body: [String: JSONValue], to record: inout Record, into v: inout Validator) {
        var tags = record.tags
        if let raw = body["tags"] {
            if raw == .null { tags = [] } else if let list = tagList(raw, field: "tags", into: &v) { tags = list }
        }
        if let raw = body["add_tags"], let list = tagList(raw, field: "add_tags", into: &v) { tags += list }
        if let raw = body["remove_tags"], let list = tagList(raw, field: "remove_tags", into: &v) {
            let drop = Set(list.map { $0.lowercased() })
            tags.removeAll { drop.contains($0.lowercased()) }
        }
        tags = RecordInput.dedupe(tags)
        if tags.count > RecordInput.maxTags { v.add("tags", "too_many", "A record holds at most \(RecordInput.maxTags) tags.") }
        record.tags = tags
    }

    func applyCustomFields(_ raw: JSONValue?, to record: inout Record, isCreate: Bool, into v: inout Validator) {
        if let raw, raw != .null {
            guard case .object(let values) = raw else {
                v.add("custom_fields", "invalid_type", "custom_fields must be an object.")
                return
            }
            for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                guard let def = definitions.first(where: { $0.key == key }) else {
                    v.add("custom_fields.\(key)", "unknown_field", "Unknown custom field \(key).")
                    continue
                }
                if value == .null {
                    if def.required { v.add("custom_fields.\(key)", "required", "custom_fields.\(key) is required.") }
                    record.customFields[key] = nil
                    continue
                }
                if let normalized = def.normalize(value, currency: currency, into: &v) { record.customFields[key] = normalized }
            }
        }
        if isCreate {
            for def in definitions where def.required && record.customFields[def.key] == nil
                && !v.details.contains(where: { $0.field == "custom_fields.\(def.key)" }) {
                v.add("custom_fields.\(def.key)", "required", "custom_fields.\(def.key) is required.")
            }
        }
    }

    /// Field-level differences between two versions of a record (derived fields excluded).
    static func diff(_ old: Record, _ new: Record, schema: ObjectSchema) -> [(field: String, old: JSONValue, new: JSONValue)] {
        var out: [(String, JSONValue, JSONValue)] = []
        for f in schema.fields where !schema.derivedFields.contains(f.name) {
            let a = old.values[f.name] ?? .null, b = new.values[f.name] ?? .null
            if a != b { out.append((f.name, a, b)) }
        }
        if schema.hasTags, old.tags != new.tags {
            out.append(("tags", .array(old.tags.map(JSONValue.string)), .array(new.tags.map(JSONValue.string))))
        }
        if schema.hasCustomFields {
            for key in Set(old.customFields.keys).union(new.customFields.keys).sorted() {
                let a = old.customFields[key] ?? .null, b = new.customFields[key] ?? .null
                if a != b { out.append(("custom_fields.\(key)", a, b)) }
            }
        }
        return out
    }
}
