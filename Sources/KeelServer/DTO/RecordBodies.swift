import Foundation
import KeelCore

struct SearchRequestBody: StrictDecodable {
    let filter: JSONValue?
    let sort: SortField?
    let q: String?
    let limit: Int?
    let cursor: String?
    let include_total: Bool?
    static let allowedKeys: Set<String> = ["filter", "sort", "q", "limit", "cursor", "include_total"]

    /// `sort` may be one string or an array of strings.
    enum SortField: Decodable, Sendable {
        case list([String])
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .list([s]); return }
            self = .list(try c.decode([String].self))
        }
        var values: [String] { if case .list(let l) = self { l } else { [] } }
    }
}

struct BatchRequestBody: StrictDecodable {
    struct Operation: Decodable, Sendable {
        let op: String
        let id: String?
        let data: [String: JSONValue]?
    }
    let operations: [Operation]
    static let allowedKeys: Set<String> = ["operations"]
}

struct MergeBody: StrictDecodable {
    let source_ids: [String]
    static let allowedKeys: Set<String> = ["source_ids"]
}

struct ContactDuplicateBody: StrictDecodable {
    let email: String?
    let phone: String?
    let first_name: String?
    let last_name: String?
    static let allowedKeys: Set<String> = ["email", "phone", "first_name", "last_name"]
}

struct CompanyDuplicateBody: StrictDecodable {
    let name: String?
    let domain: String?
    static let allowedKeys: Set<String> = ["name", "domain"]
}

struct CustomFieldBody: StrictDecodable {
    let object_type: String?
    let key: String?
    let label: String?
    let type: String?
    let options: [String]?
    let required: Bool?
    let version: Int?
    static let allowedKeys: Set<String> = ["object_type", "key", "label", "type", "options", "required", "version"]
}

struct CustomFieldDTO: ResponseDTO {
    let id: String
    let object_type: String
    let key: String
    let label: String
    let type: String
    let options: [String]
    let required: Bool
    let created_at: Date
    let updated_at: Date
    let created_by: String?
    let version: Int

    init(_ d: CustomFieldDefinition) {
        id = d.id.rawValue
        object_type = d.objectType
        key = d.key
        label = d.label
        type = d.type.rawValue
        options = d.options
        required = d.required
        created_at = d.createdAt
        updated_at = d.updatedAt
        created_by = d.createdBy?.rawValue
        version = d.version
    }
}

struct HistoryDTO: ResponseDTO {
    let id: String
    let field: String
    let old: JSONValue
    let new: JSONValue
    let actor: ActorRef
    let source: String
    let at: Date

    init(_ h: HistoryEntry) {
        id = h.id
        field = h.field
        old = h.oldValue
        new = h.newValue
        actor = h.actor
        source = h.source.rawValue
        at = h.at
    }
}

struct TimelineDTO: ResponseDTO {
    let type: String
    let id: String
    let at: Date
    let actor: ActorRef
    let data: JSONValue

    init(_ t: TimelineItem) {
        type = t.type
        id = t.id
        at = t.at
        actor = t.actor
        data = t.data
    }
}

struct TagCountDTO: ResponseDTO {
    let tag: String
    let count: Int
}

struct DuplicateDTO: ResponseDTO {
    let record: JSONValue
    let score: Double
    let reasons: [String]
}

struct BatchItemDTO: Encodable, Sendable {
    let index: Int
    let status: Int
    let data: JSONValue?
    let error: ErrorBody?

    struct ErrorBody: Encodable, Sendable {
        let code: String
        let message: String
        let details: [ErrorDetail]
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: DTOKey.self)
        try c.encode(index, forKey: DTOKey("index"))
        try c.encode(status, forKey: DTOKey("status"))
        if let data { try c.encode(data, forKey: DTOKey("data")) }
        if let error { try c.encode(error, forKey: DTOKey("error")) }
    }
}
