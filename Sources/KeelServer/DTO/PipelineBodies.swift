import Foundation
import KeelCore

struct StageRulesBody: Decodable, Sendable {
    let required_fields: [String]?
    let disallow_skip: Bool?
    let allowed_next_stage_ids: [String]?

    var rules: StageRules {
        StageRules(requiredFields: required_fields ?? [], disallowSkip: disallow_skip ?? false, allowedNextStageIDs: allowed_next_stage_ids ?? [])
    }
}

struct StageBody: StrictDecodable {
    let name: String?
    let type: String?
    let probability: JSONValue?
    let forecast_category: String?
    let color: JSONValue?
    let rot_days: JSONValue?
    let rules: StageRulesBody?
    let position: Int?
    let version: Int?
    static let allowedKeys: Set<String> = ["name", "type", "probability", "forecast_category", "color", "rot_days", "rules", "position", "version"]
    static let nestedKeys: [String: Set<String>] = ["rules": ["required_fields", "disallow_skip", "allowed_next_stage_ids"]]

    /// `null` is meaningful for probability, color and rot_days (back to the default / none), so the raw JSON is kept.
    func input(raw: [String: JSONValue]) -> StageInput {
        StageInput(name: name, type: type, probability: raw["probability"], forecastCategory: forecast_category, color: raw["color"],
                   rotDays: raw["rot_days"], rules: rules?.rules, position: position)
    }
}

struct PipelineBody: StrictDecodable {
    let name: String?
    let currency: String?
    let is_default: Bool?
    let stages: [JSONValue]?
    let version: Int?
    static let allowedKeys: Set<String> = ["name", "currency", "is_default", "stages", "version"]
}

struct ReorderBody: StrictDecodable {
    let stage_ids: [String]
    static let allowedKeys: Set<String> = ["stage_ids"]
}

struct MoveBody: StrictDecodable {
    let stage_id: String
    let lost_reason: String?
    static let allowedKeys: Set<String> = ["stage_id", "lost_reason"]
}

struct LineItemBody: StrictDecodable {
    let product_id: PatchField<String>
    let name: PatchField<String>
    let quantity: JSONValue?
    let unit_price: JSONValue?
    let discount_percent: JSONValue?
    let version: Int?
    static let allowedKeys: Set<String> = ["product_id", "name", "quantity", "unit_price", "discount_percent", "version"]

    var input: LineItemInput {
        func map(_ f: PatchField<String>) -> PatchValue<String> {
            switch f {
            case .absent: .absent
            case .null: .null
            case .value(let v): .value(v)
            }
        }
        return LineItemInput(productID: map(product_id), name: map(name), quantity: quantity, unitPrice: unit_price, discountPercent: discount_percent)
    }
}
