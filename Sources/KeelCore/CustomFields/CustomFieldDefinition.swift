import Foundation

public enum CustomFieldKind: IDKind { public static let prefix = IDPrefix.customField }
public typealias CustomFieldID = TypedID<CustomFieldKind>

public enum CustomFieldType: String, Sendable, Codable, CaseIterable {
    case text, number, currency, date, datetime, boolean, select, multiSelect = "multi_select", url, email, phone

    public var family: ValueFamily {
        switch self {
        case .text, .select, .url, .email, .phone, .multiSelect: .text
        case .number: .number
        case .currency: .money
        case .date: .date
        case .datetime: .datetime
        case .boolean: .bool
        }
    }
}

public struct CustomFieldDefinition: Sendable, Equatable {
    public var id: CustomFieldID
    public var workspaceID: WorkspaceID
    public var objectType: String
    public var key: String
    public var label: String
    public var type: CustomFieldType
    public var options: [String]
    public var required: Bool
    public var createdAt: Date
    public var updatedAt: Date
    public var createdBy: UserID?
    public var version: Int
    public var deletedAt: Date?

    public init(id: CustomFieldID, workspaceID: WorkspaceID, objectType: String, key: String, label: String, type: CustomFieldType,
                options: [String], required: Bool, createdAt: Date, updatedAt: Date, createdBy: UserID?, version: Int, deletedAt: Date? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.objectType = objectType
        self.key = key
        self.label = label
        self.type = type
        self.options = options
        self.required = required
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
        self.version = version
        self.deletedAt = deletedAt
    }

    public static let objectTypes = ["contact", "company", "deal", "lead", "product"]

    /// Validates one value against the definition; returns the stored form.
    public func normalize(_ value: JSONValue, currency: String, into v: inout Validator) -> JSONValue? {
        let field = "custom_fields.\(key)"
        if value == .null { return .null }
        switch type {
        case .text:
            return FieldValues.normalize(value, kind: .text(max: 10_000), field: field, currency: currency, into: &v)
        case .number:
            guard case .number = value else { return FieldValues.typeError(field, "a number", &v) }
            return value
        case .currency:
            guard case .number(let n) = value else { return FieldValues.typeError(field, "a number", &v) }
            guard let minor = Money.minorUnits(n, currency: currency) else {
                let refusal = Money.refusal(n, currency: currency, subject: field)
                v.add(field, refusal.code, refusal.message)
                return nil
            }
            return .number(Money.format(minor, currency: currency))
        case .date: return FieldValues.normalize(value, kind: .date, field: field, currency: currency, into: &v)
        case .datetime: return FieldValues.normalize(value, kind: .datetime, field: field, currency: currency, into: &v)
        case .boolean: return FieldValues.normalize(value, kind: .bool, field: field, currency: currency, into: &v)
        case .url: return FieldValues.normalize(value, kind: .url, field: field, currency: currency, into: &v)
        case .email: return FieldValues.normalize(value, kind: .email, field: field, currency: currency, into: &v)
        case .phone: return FieldValues.normalize(value, kind: .phone, field: field, currency: currency, into: &v)
        case .select:
            guard case .string(let s) = value else { return FieldValues.typeError(field, "a string", &v) }
            guard options.contains(s) else {
                v.add(field, "invalid_option", "\(field) must be one of: \(options.joined(separator: ", ")).")
                return nil
            }
            return value
        case .multiSelect:
            guard case .array(let items) = value else { return FieldValues.typeError(field, "an array of strings", &v) }
            var out: [JSONValue] = []
            for item in items {
                guard case .string(let s) = item, options.contains(s) else {
                    v.add(field, "invalid_option", "\(field) values must be among: \(options.joined(separator: ", ")).")
                    return nil
                }
                if !out.contains(item) { out.append(item) }
            }
            return .array(out)
        }
    }
}
