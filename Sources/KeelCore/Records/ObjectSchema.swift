import Foundation

/// How a record field is typed, stored and compared. One description serves validation, SQL, filters, history and DTOs.
public enum FieldKind: Sendable, Equatable {
    case text(max: Int)
    case email
    case phone
    case url
    case domain
    case enumeration([String])
    case bool
    case integer(min: Int64, max: Int64)
    /// Major units in JSON, integer minor units in the database (the workspace currency's digits).
    case money
    case date
    case datetime
    case reference(IDPrefix)
    /// Any record id (e.g. a note's parent), compared exactly.
    case identifier
    case address
    /// 0.0–1.0 in JSON (at most 4 decimals), basis points in the database.
    case probability
    /// An array of link objects kept as JSON (validated by the object's behavior).
    case links

    /// Text compared on its lower-case form; ids and enumerations compare exactly, and e-mails and domains are stored lower-cased.
    public var isCaseInsensitive: Bool {
        switch self {
        case .text, .phone, .url: true
        default: false
        }
    }

    /// The filter/sort family the kind belongs to.
    public var family: ValueFamily {
        switch self {
        case .text, .email, .phone, .url, .domain, .enumeration, .reference, .identifier: .text
        case .bool: .bool
        case .integer: .number
        case .probability: .probability
        case .money: .money
        case .date: .date
        case .datetime: .datetime
        case .address, .links: .json
        }
    }
}

public enum ValueFamily: String, Sendable { case text, number, money, probability, bool, date, datetime, json, tags }

public struct FieldSpec: Sendable {
    public let name: String
    public let kind: FieldKind
    public let column: String
    public let nullable: Bool
    public let writable: Bool
    public let sortable: Bool
    public let filterable: Bool
    /// Part of the list's `q` substring match.
    public let searchable: Bool
    /// Text stored with a lower-case shadow column (for case-insensitive filters, sorting and uniqueness).
    public let lowerColumn: String?

    public init(_ name: String, _ kind: FieldKind, column: String? = nil, nullable: Bool = true, writable: Bool = true,
                sortable: Bool = false, filterable: Bool = true, searchable: Bool = false, lowerColumn: String? = nil) {
        self.name = name
        self.kind = kind
        self.column = column ?? name
        self.nullable = nullable
        self.writable = writable
        self.sortable = sortable
        self.filterable = filterable
        self.searchable = searchable
        self.lowerColumn = lowerColumn
    }
}

/// Everything the generic record machinery needs to know about one object type.
public struct ObjectSchema: Sendable {
    public let type: String
    public let plural: String
    public let prefix: IDPrefix
    public let table: String
    public let fields: [FieldSpec]
    /// Fields that must be present (and non-empty) on create.
    public let requiredOnCreate: Set<String>
    /// Recomputes derived fields (never versioned, never in history).
    public let derive: @Sendable (inout Record) -> Void
    /// Derived, read-only fields that still appear in output and filters.
    public let derivedFields: Set<String>
    public let hasOwner: Bool
    /// The field used for `sort=name`.
    public let nameField: String
    public let hasTags: Bool
    public let hasCustomFields: Bool
    public let mergeable: Bool

    public init(type: String, plural: String, prefix: IDPrefix, table: String, fields: [FieldSpec], requiredOnCreate: Set<String>,
                derivedFields: Set<String> = [], hasOwner: Bool = true, nameField: String, hasTags: Bool = true, hasCustomFields: Bool = true,
                mergeable: Bool = false, derive: @escaping @Sendable (inout Record) -> Void = { _ in }) {
        self.hasTags = hasTags
        self.hasCustomFields = hasCustomFields
        self.mergeable = mergeable
        self.type = type
        self.plural = plural
        self.prefix = prefix
        self.table = table
        self.fields = fields
        self.requiredOnCreate = requiredOnCreate
        self.derive = derive
        self.derivedFields = derivedFields
        self.hasOwner = hasOwner
        self.nameField = nameField
    }

    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }

    /// System columns every record has, usable in filters and sorts.
    public static let systemFields: [FieldSpec] = [
        FieldSpec("id", .reference(.contact), writable: false, sortable: false),
        FieldSpec("created_at", .datetime, nullable: false, writable: false, sortable: true),
        FieldSpec("updated_at", .datetime, nullable: false, writable: false, sortable: true),
        FieldSpec("created_by", .reference(.user), writable: false),
        FieldSpec("version", .integer(min: 1, max: Int64.max), nullable: false, writable: false),
    ]

    public var allFields: [FieldSpec] { ObjectSchema.systemFields + fields }
}

/// A record of any CRM object type: typed values keyed by field name, plus the common columns.
public struct Record: Sendable, Equatable {
    public var id: String
    public var workspaceID: WorkspaceID
    public var values: [String: JSONValue]
    public var tags: [String]
    public var customFields: [String: JSONValue]
    public var createdAt: Date
    public var updatedAt: Date
    public var createdBy: UserID?
    public var version: Int
    public var deletedAt: Date?
    public var mergedInto: String?

    public init(id: String, workspaceID: WorkspaceID, values: [String: JSONValue], tags: [String], customFields: [String: JSONValue],
                createdAt: Date, updatedAt: Date, createdBy: UserID?, version: Int, deletedAt: Date? = nil, mergedInto: String? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.values = values
        self.tags = tags
        self.customFields = customFields
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
        self.version = version
        self.deletedAt = deletedAt
        self.mergedInto = mergedInto
    }

    public subscript(_ field: String) -> JSONValue? {
        get { values[field].flatMap { $0 == .null ? nil : $0 } }
        set { values[field] = newValue ?? .null }
    }

    public func string(_ field: String) -> String? { self[field]?.stringValue }
    public var ownerID: String? { string("owner_id") }
    public var isPrivate: Bool { string("visibility") == "private" }

    /// Visibility: private records are seen only by their owner and by admins.
    public func isVisible(to p: Principal) -> Bool {
        !isPrivate || p.role >= .admin || ownerID == p.userID.rawValue
    }
}
