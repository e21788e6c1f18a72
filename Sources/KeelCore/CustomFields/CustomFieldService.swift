import Foundation

public struct CustomFieldInput: Sendable {
    public var objectType: String?
    public var key: String?
    public var label: String?
    public var type: String?
    public var options: [String]?
    public var required: Bool?
    public init(objectType: String?, key: String?, label: String?, type: String?, options: [String]?, required: Bool?) {
        self.objectType = objectType
        self.key = key
        self.label = label
        self.type = type
        self.options = options
        self.required = required
    }
}

/// Custom field definitions: reads need `crm:read`, writes `workspace:write`.
public struct CustomFieldService: Sendable {
    let store: any Store
    let clock: any KeelClock
    /// Tables holding each object type's `custom_fields` column.
    let tables: [String: String]

    public init(store: any Store, clock: any KeelClock, tables: [String: String]) {
        self.store = store
        self.clock = clock
        self.tables = tables
    }

    static func isValidKey(_ key: String) -> Bool {
        guard let first = key.first, first.isASCII, first.isLowercase, key.count <= 63 else { return false }
        return key.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    func validateOptions(_ type: CustomFieldType, _ options: [String]?, into v: inout Validator) -> [String] {
        let opts = (options ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
        if type == .select || type == .multiSelect {
            if opts.isEmpty || opts.count > 200 { v.add("options", "required", "select fields need 1 to 200 options.") }
            if opts.contains(where: { $0.isEmpty || $0.count > 100 }) { v.add("options", "invalid_value", "Options are 1 to 100 characters.") }
            if Set(opts).count != opts.count { v.add("options", "duplicate", "Options must be unique.") }
        } else if !opts.isEmpty {
            v.add("options", "not_allowed", "Only select and multi_select fields take options.")
        }
        return opts
    }

    public func list(_ p: Principal, objectType: String?) async throws -> [CustomFieldDefinition] {
        try p.require(Scope("crm", .read))
        if let objectType, !CustomFieldDefinition.objectTypes.contains(objectType) {
            throw APIError.badRequest("object_type must be one of \(CustomFieldDefinition.objectTypes.joined(separator: ", ")).", field: "object_type")
        }
        return try await store.read { try await $0.customFields.list(p.workspaceID, objectType: objectType) }
    }

    public func get(_ p: Principal, id: CustomFieldID) async throws -> CustomFieldDefinition {
        try p.require(Scope("crm", .read))
        guard let d = try await store.read({ try await $0.customFields.get(p.workspaceID, id: id) }), d.deletedAt == nil else {
            throw APIError.notFound("Custom field")
        }
        return d
    }

    public func create(_ p: Principal, _ input: CustomFieldInput, meta: RequestMeta) async throws -> CustomFieldDefinition {
        try p.require(Scope("workspace", .write))
        var v = Validator()
        let objectType = input.objectType ?? ""
        if !CustomFieldDefinition.objectTypes.contains(objectType) {
            v.add("object_type", "invalid_value", "object_type must be one of \(CustomFieldDefinition.objectTypes.joined(separator: ", ")).")
        }
        let key = input.key ?? ""
        if !CustomFieldService.isValidKey(key) {
            v.add("key", "invalid_format", "key must be lower-case letters, digits and underscores, starting with a letter (max 63).")
        }
        let label = Normalize.text(input.label ?? key, field: "label", max: 200, into: &v)
        let type = CustomFieldType(rawValue: input.type ?? "")
        if type == nil { v.add("type", "invalid_value", "type must be one of \(CustomFieldType.allCases.map(\.rawValue).joined(separator: ", ")).") }
        let options = validateOptions(type ?? .text, input.options, into: &v)
        try v.check()
        guard let type else { throw APIError.validation(v.details) }
        let now = clock.now()
        let def = CustomFieldDefinition(id: .generate(at: now), workspaceID: p.workspaceID, objectType: objectType, key: key, label: label, type: type,
                                        options: options, required: input.required ?? false, createdAt: now, updatedAt: now, createdBy: p.userID, version: 1)
        return try await store.write { tx in
            if let existing = try await tx.customFields.list(p.workspaceID, objectType: objectType).first(where: { $0.key == key }) {
                throw APIError.duplicate("key", existingID: existing.id.rawValue, message: "A \(objectType) custom field with this key exists.")
            }
            try await tx.customFields.insert(def)
            ContextCache.shared.invalidate(p.workspaceID)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "custom_field.created", objectType: "custom_field",
                                                 objectID: def.id.rawValue, changes: .object(["key": .string(key), "type": .string(type.rawValue)]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return def
        }
    }

    /// Label, options, and `required` may change; key, type and object type are fixed (values depend on them).
    public func update(_ p: Principal, id: CustomFieldID, _ input: CustomFieldInput, expectedVersion: Int?, meta: RequestMeta) async throws -> CustomFieldDefinition {
        try p.require(Scope("workspace", .write))
        var v = Validator()
        if input.key != nil { v.add("key", "immutable", "key cannot change; create a new field.") }
        if input.type != nil { v.add("type", "immutable", "type cannot change; create a new field.") }
        if input.objectType != nil { v.add("object_type", "immutable", "object_type cannot change.") }
        let label = input.label.map { Normalize.text($0, field: "label", max: 200, into: &v) }
        try v.check()
        let now = clock.now()
        return try await store.write { tx in
            guard var def = try await tx.customFields.get(p.workspaceID, id: id), def.deletedAt == nil else { throw APIError.notFound("Custom field") }
            if let expectedVersion, expectedVersion != def.version { throw APIError.versionConflict(current: def.version) }
            var v = Validator()
            if let options = input.options { def.options = validateOptions(def.type, options, into: &v) }
            try v.check()
            if let label { def.label = label }
            if let required = input.required { def.required = required }
            def.version += 1
            def.updatedAt = now
            try await tx.customFields.update(def)
            ContextCache.shared.invalidate(p.workspaceID)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "custom_field.updated", objectType: "custom_field",
                                                 objectID: def.id.rawValue, requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return def
        }
    }

    /// Deletes the definition and removes its values from every record, with one audit entry (no per-record history rows).
    public func delete(_ p: Principal, id: CustomFieldID, meta: RequestMeta) async throws {
        try p.require(Scope("workspace", .write))
        let now = clock.now()
        let tables = self.tables
        try await store.write { tx in
            guard var def = try await tx.customFields.get(p.workspaceID, id: id), def.deletedAt == nil else { throw APIError.notFound("Custom field") }
            def.deletedAt = now
            def.version += 1
            def.updatedAt = now
            try await tx.customFields.update(def)
            ContextCache.shared.invalidate(p.workspaceID)
            var removed = 0
            if let table = tables[def.objectType] { removed = try await tx.customFields.removeValues(p.workspaceID, table: table, key: def.key) }
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "custom_field.deleted", objectType: "custom_field",
                                                 objectID: def.id.rawValue,
                                                 changes: .object(["key": .string(def.key), "values_removed": .number(String(removed))]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
    }
}

public struct TagService: Sendable {
    let store: any Store
    let objects: [(type: String, table: String, hasVisibility: Bool)]

    public init(store: any Store, objects: [(type: String, table: String, hasVisibility: Bool)]) {
        self.store = store
        self.objects = objects
    }

    public func counts(_ p: Principal, prefix: String?, limit: Int) async throws -> [(String, Int)] {
        try p.require(Scope("crm", .read))
        let objects = self.objects
        return try await store.read { try await $0.tags.counts(p.workspaceID, prefix: prefix?.lowercased(), viewer: Viewer(p), objectTypes: objects, limit: limit) }
    }
}
