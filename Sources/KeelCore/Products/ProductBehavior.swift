import Foundation

public enum ProductKind: IDKind { public static let prefix = IDPrefix.product }
public enum LineItemKind: IDKind { public static let prefix = IDPrefix.lineItem }

public struct ProductBehavior: ObjectBehavior {
    public static let schema = ObjectSchema(
        type: "product", plural: "products", prefix: .product, table: "products",
        fields: [
            FieldSpec("name", .text(max: 200), nullable: false, sortable: true, searchable: true, lowerColumn: "name_lower"),
            FieldSpec("sku", .text(max: 64), sortable: true, searchable: true, lowerColumn: "sku_lower"),
            FieldSpec("description", .text(max: 5000), searchable: true, lowerColumn: "description_lower"),
            FieldSpec("currency", .text(max: 3), nullable: false),
            FieldSpec("price", .money, sortable: true),
            FieldSpec("cost", .money, sortable: true),
            FieldSpec("unit", .text(max: 50)),
            FieldSpec("is_active", .bool, nullable: false),
        ],
        requiredOnCreate: ["name"], hasOwner: false, nameField: "name")

    public var schema: ObjectSchema { ProductBehavior.schema }
    public var uniqueFields: [String] { ["sku"] }
    public init() {}

    public func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                        at now: Date, in tx: any StoreSession) async throws {
        if let sku = record.string("sku") { record["sku"] = .string(sku.uppercased()) }
        if record["is_active"] == nil { record["is_active"] = .bool(true) }
        if let c = record.string("currency") {
            guard Currency.isValid(c) else { throw APIError.validation("currency", "invalid_value", "currency must be an ISO 4217 code.") }
        } else {
            record["currency"] = .string(scope.currency)
        }
    }

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        if let sku = record.string("sku"), sku != previous?.string("sku") {
            if let other = try await tx.records.find(scope, field: "sku", value: sku, limit: 2).first(where: { $0.id != record.id }) {
                throw APIError.duplicate("sku", existingID: other.id, message: "A live product with this SKU already exists.")
            }
        }
    }

    public func listFilter(_ param: String, _ value: String, parser: FilterParser, workspace: Workspace) throws -> FilterNode? {
        switch param {
        case "min_price": return try parser.condition(field: "price", op: .gte, value: try ListQuery.typed(value, .money, param), path: param)
        case "max_price": return try parser.condition(field: "price", op: .lte, value: try ListQuery.typed(value, .money, param), path: param)
        default: return nil
        }
    }
}

public struct LineItem: Sendable, Equatable {
    public var id: String
    public var workspaceID: WorkspaceID
    public var dealID: String
    public var productID: String?
    public var name: String
    /// Quantity in ten-thousandths.
    public var quantity: Int64
    /// Minor units of the deal currency.
    public var unitPrice: Int64
    /// Discount in hundredths of a percent (0–10000).
    public var discount: Int64
    public var total: Int64
    public var position: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: String, workspaceID: WorkspaceID, dealID: String, productID: String?, name: String, quantity: Int64, unitPrice: Int64,
                discount: Int64, total: Int64, position: Int, createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id
        self.workspaceID = workspaceID
        self.dealID = dealID
        self.productID = productID
        self.name = name
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.discount = discount
        self.total = total
        self.position = position
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// `quantity × unit_price × (100 − discount_percent) / 100`, rounded half-even to the minor unit, in exact decimal arithmetic.
    public static func total(quantity: Int64, unitPrice: Int64, discount: Int64) -> Int64 {
        var product = Decimal(quantity) * Decimal(unitPrice) * Decimal(10_000 - discount) / Decimal(100_000_000)
        var rounded = Decimal()
        NSDecimalRound(&rounded, &product, 0, .bankers)
        return Int64(NSDecimalNumber(decimal: rounded).stringValue) ?? 0
    }
}

public protocol LineItemRepository: Sendable {
    func insert(_ item: LineItem) async throws
    func insertMany(_ items: [LineItem]) async throws
    func insertDealContacts(_ ws: WorkspaceID, links: [(String, String)]) async throws
    func update(_ item: LineItem) async throws
    func delete(_ ws: WorkspaceID, id: String) async throws
    func list(_ ws: WorkspaceID, dealID: String) async throws -> [LineItem]
    func count(_ ws: WorkspaceID, dealID: String) async throws -> Int
    func setDealContacts(_ ws: WorkspaceID, dealID: String, contactIDs: [String]) async throws
    /// Points deal links at a merge survivor (both the link table and the deals' `contacts` JSON).
    func relinkDealContact(_ ws: WorkspaceID, from: String, to: String) async throws
}

public enum Decimals {
    /// A JSON number with at most `scale` decimals, scaled to an integer.
    public static func scaled(_ text: String, scale: Int) -> Int64? {
        guard let d = Decimal(string: text), d.isFinite else { return nil }
        var factor = Decimal(1)
        for _ in 0..<scale { factor *= 10 }
        var v = d * factor
        var rounded = Decimal()
        NSDecimalRound(&rounded, &v, 0, .plain)
        guard rounded == d * factor, abs(NSDecimalNumber(decimal: rounded).doubleValue) < 9e15 else { return nil }
        return Int64(NSDecimalNumber(decimal: rounded).stringValue)
    }

    public static func format(_ v: Int64, scale: Int) -> String {
        guard scale > 0 else { return String(v) }
        let negative = v < 0
        var s = String(v.magnitude)
        while s.count <= scale { s = "0" + s }
        let cut = s.index(s.endIndex, offsetBy: -scale)
        var frac = String(s[cut...])
        while frac.hasSuffix("0") { frac.removeLast() }
        return (negative ? "-" : "") + String(s[..<cut]) + (frac.isEmpty ? "" : "." + frac)
    }
}
