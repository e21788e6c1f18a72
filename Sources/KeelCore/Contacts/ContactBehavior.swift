import Foundation

public enum ContactKind: IDKind { public static let prefix = IDPrefix.contact }
public enum CompanyKind: IDKind { public static let prefix = IDPrefix.company }
public enum NoteKind: IDKind { public static let prefix = IDPrefix.note }

public struct ContactBehavior: ObjectBehavior {
    public static let lifecycleStages = ["subscriber", "lead", "opportunity", "customer", "evangelist", "other"]

    public static let schema = ObjectSchema(
        type: "contact", plural: "contacts", prefix: .contact, table: "contacts",
        fields: [
            FieldSpec("first_name", .text(max: 200), sortable: true, lowerColumn: "first_name_lower"),
            FieldSpec("last_name", .text(max: 200), sortable: true, lowerColumn: "last_name_lower"),
            FieldSpec("display_name", .text(max: 500), nullable: false, writable: false, sortable: true, searchable: true, lowerColumn: "display_name_lower"),
            FieldSpec("email", .email, sortable: true, searchable: true),
            FieldSpec("phone", .phone, searchable: true, lowerColumn: "phone_digits"),
            FieldSpec("title", .text(max: 200), sortable: true, lowerColumn: "title_lower"),
            FieldSpec("company_id", .reference(.company)),
            FieldSpec("owner_id", .reference(.user)),
            FieldSpec("visibility", .enumeration(["workspace", "private"]), nullable: false),
            FieldSpec("lifecycle_stage", .enumeration(lifecycleStages), sortable: true),
            FieldSpec("source", .text(max: 100), lowerColumn: "source_lower"),
            FieldSpec("address", .address),
            FieldSpec("email_opt_out", .bool, nullable: false),
            FieldSpec("last_activity_at", .datetime, writable: false, sortable: true),
        ],
        requiredOnCreate: [], derivedFields: ["display_name", "last_activity_at"], nameField: "display_name", mergeable: true,
        derive: { r in
            let name = [r.string("first_name"), r.string("last_name")].compactMap { $0 }.joined(separator: " ")
            r["display_name"] = .string(name.isEmpty ? (r.string("email") ?? r.string("phone") ?? "(no name)") : name)
            if r["email_opt_out"] == nil { r["email_opt_out"] = .bool(false) }
        })

    public var schema: ObjectSchema { ContactBehavior.schema }
    public var uniqueFields: [String] { ["email"] }
    public init() {}

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        if record["first_name"] == nil && record["last_name"] == nil && record["email"] == nil {
            throw APIError.validation("first_name", "required", "A contact needs a first_name, a last_name or an email.")
        }
        try await References.checkOwner(record, previous: previous, scope: scope, in: tx)
        try await References.checkRecord("company_id", of: record, previous: previous, target: CompanyBehavior.schema, scope: scope,
                                         principal: principal, in: tx)
        if let email = record.string("email"), email != previous?.string("email") {
            if let other = try await tx.records.find(scope, field: "email", value: email, limit: 2).first(where: { $0.id != record.id }) {
                throw APIError.duplicate("email", existingID: other.isVisible(to: principal) ? other.id : nil,
                                         message: "A live contact with this e-mail already exists.")
            }
        }
    }
}

public struct CompanyBehavior: ObjectBehavior {
    public static let sizes = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10000+"]

    public static let schema = ObjectSchema(
        type: "company", plural: "companies", prefix: .company, table: "companies",
        fields: [
            FieldSpec("name", .text(max: 200), nullable: false, sortable: true, searchable: true, lowerColumn: "name_lower"),
            FieldSpec("domain", .domain, sortable: true, searchable: true),
            FieldSpec("industry", .text(max: 100), sortable: true, lowerColumn: "industry_lower"),
            FieldSpec("size", .enumeration(sizes)),
            FieldSpec("phone", .phone, searchable: true, lowerColumn: "phone_digits"),
            FieldSpec("website", .url),
            FieldSpec("address", .address),
            FieldSpec("owner_id", .reference(.user)),
            FieldSpec("visibility", .enumeration(["workspace", "private"]), nullable: false),
            FieldSpec("annual_revenue", .money, sortable: true),
            FieldSpec("last_activity_at", .datetime, writable: false, sortable: true),
        ],
        requiredOnCreate: ["name"], derivedFields: ["last_activity_at"], nameField: "name", mergeable: true)

    public var schema: ObjectSchema { CompanyBehavior.schema }
    public var uniqueFields: [String] { ["domain"] }
    public init() {}

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        try await References.checkOwner(record, previous: previous, scope: scope, in: tx)
        if let domain = record.string("domain"), domain != previous?.string("domain") {
            if let other = try await tx.records.find(scope, field: "domain", value: domain, limit: 2).first(where: { $0.id != record.id }) {
                throw APIError.duplicate("domain", existingID: other.isVisible(to: principal) ? other.id : nil,
                                         message: "A live company with this domain already exists.")
            }
        }
    }
}

/// Contacts of a merged-away company move to the survivor.
public struct CompanyContactsLinker: MergeLinker {
    public init() {}
    public func move(objectType: String, from source: String, to survivor: String, scope: RecordScope, in tx: any StoreSession) async throws {
        guard objectType == "company" else { return }
        let contacts = RecordScope(schema: ContactBehavior.schema, workspaceID: scope.workspaceID, currency: scope.currency)
        _ = try await tx.records.relink(contacts, column: "company_id", from: source, to: survivor, onlyLive: false)
    }
}

public struct NoteBehavior: ObjectBehavior {
    public static let maxBodyBytes = 100 * 1024
    public static let relatedTypes = ["contact", "company", "deal", "lead"]

    public static let schema = ObjectSchema(
        type: "note", plural: "notes", prefix: .note, table: "notes",
        fields: [
            FieldSpec("body", .text(max: maxBodyBytes), nullable: false, searchable: true),
            FieldSpec("pinned", .bool, nullable: false, sortable: true),
            FieldSpec("related_type", .enumeration(relatedTypes), nullable: false),
            FieldSpec("related_id", .identifier, nullable: false),
        ],
        requiredOnCreate: ["body", "related_type", "related_id"], hasOwner: false, nameField: "body", hasTags: false, hasCustomFields: false,
        derive: { r in if r["pinned"] == nil { r["pinned"] = .bool(false) } })

    /// The record types notes may hang off, as far as they exist.
    let parents: [String: any ObjectBehavior]

    public init(parents: [any ObjectBehavior]) {
        self.parents = Dictionary(uniqueKeysWithValues: parents.map { ($0.schema.type, $0) })
    }

    public var schema: ObjectSchema { NoteBehavior.schema }
    public var visibilityFollowsParent: Bool { true }

    public func translateInput(_ body: [String: JSONValue]) -> [String: JSONValue] {
        var out = body
        if let related = out.removeValue(forKey: "related_to") {
            if case .object(let o) = related {
                out["related_type"] = o["type"] ?? .null
                out["related_id"] = o["id"] ?? .null
            } else {
                out["related_type"] = related
            }
        }
        return out
    }

    public func render(_ record: Record, into json: inout [String: JSONValue]) {
        json["related_to"] = .object(["type": record.values["related_type"] ?? .null, "id": record.values["related_id"] ?? .null])
        json["related_type"] = nil
        json["related_id"] = nil
        json["author_id"] = record.createdBy.map { .string($0.rawValue) } ?? .null
    }

    func parent(of record: Record, scope: RecordScope, in tx: any StoreSession) async throws -> (any ObjectBehavior, Record?) {
        guard let type = record.string("related_type"), let behavior = parents[type] else {
            throw APIError.validation("related_to.type", "invalid_value", "Notes can relate to: \(parents.keys.sorted().joined(separator: ", ")).")
        }
        let parentScope = RecordScope(schema: behavior.schema, workspaceID: scope.workspaceID, currency: scope.currency)
        return (behavior, try await tx.records.get(parentScope, id: record.string("related_id") ?? ""))
    }

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        if (record.string("body") ?? "").utf8.count > NoteBehavior.maxBodyBytes {
            throw APIError.validation("body", "too_long", "body must be at most 100 KB.")
        }
        guard previous == nil || record.values["related_id"] != previous?.values["related_id"]
            || record.values["related_type"] != previous?.values["related_type"] else { return }
        let (behavior, parent) = try await parent(of: record, scope: scope, in: tx)
        let parentScope = RecordScope(schema: behavior.schema, workspaceID: scope.workspaceID, currency: scope.currency)
        guard let parent, parent.deletedAt == nil, try await behavior.isVisible(parent, to: principal, scope: parentScope, in: tx) else {
            throw APIError.validation("related_to.id", "not_found", "related_to does not name an existing record.")
        }
    }

    public func isVisible(_ record: Record, to p: Principal, scope: RecordScope, in tx: any StoreSession) async throws -> Bool {
        guard p.role < .admin else { return true }
        guard let type = record.string("related_type"), let behavior = parents[type] else { return true }
        let parentScope = RecordScope(schema: behavior.schema, workspaceID: scope.workspaceID, currency: scope.currency)
        guard let parent = try await tx.records.get(parentScope, id: record.string("related_id") ?? "") else { return true }
        return try await behavior.isVisible(parent, to: p, scope: parentScope, in: tx)
    }

    public func canModify(_ record: Record, principal: Principal) -> Bool {
        principal.role >= .admin || record.createdBy == principal.userID
    }
}
