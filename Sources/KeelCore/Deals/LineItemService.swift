import Foundation

public struct LineItemInput: Sendable {
    public var productID: PatchValue<String>
    public var name: PatchValue<String>
    public var quantity: JSONValue?
    public var unitPrice: JSONValue?
    public var discountPercent: JSONValue?
    public init(productID: PatchValue<String>, name: PatchValue<String>, quantity: JSONValue?, unitPrice: JSONValue?, discountPercent: JSONValue?) {
        self.productID = productID
        self.name = name
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.discountPercent = discountPercent
    }
}

/// Absent, explicitly null, or a value (domain-side twin of the HTTP layer's PATCH field).
public enum PatchValue<T: Sendable>: Sendable {
    case absent, null, value(T)
    public var value: T? { if case .value(let v) = self { v } else { nil } }
}

/// Line items on a deal. While a deal has any, its value is their sum: each change bumps the deal's version,
/// writes one history row and one `deal.updated` event, in the same transaction.
public struct LineItemService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let deals: RecordService

    public init(store: any Store, clock: any KeelClock, deals: RecordService) {
        self.store = store
        self.clock = clock
        self.deals = deals
    }

    public func render(_ li: LineItem, currency: String) -> JSONValue {
        .object([
            "id": .string(li.id), "deal_id": .string(li.dealID), "product_id": li.productID.map(JSONValue.string) ?? .null,
            "name": .string(li.name), "quantity": .number(Decimals.format(li.quantity, scale: 4)),
            "unit_price": .number(Money.format(li.unitPrice, currency: currency)),
            "discount_percent": .number(Decimals.format(li.discount, scale: 2)), "total": .number(Money.format(li.total, currency: currency)),
            "currency": .string(currency), "position": .number(String(li.position)),
            "created_at": .string(Timestamp.format(li.createdAt)), "updated_at": .string(Timestamp.format(li.updatedAt)),
            "version": .number(String(li.version)),
        ])
    }

    func deal(_ p: Principal, _ id: String, in tx: any StoreSession) async throws -> (Record, RecordScope) {
        let (scope, _, _) = try await deals.context(p, in: tx)
        return (try await deals.visible(p, id: id, scope: scope, in: tx), scope)
    }

    public func list(_ p: Principal, dealID: String) async throws -> ([LineItem], String) {
        try p.require(Scope("deals", .read))
        return try await store.read { tx in
            let (d, _) = try await deal(p, dealID, in: tx)
            return (try await tx.lineItems.list(p.workspaceID, dealID: d.id), d.string("currency") ?? "USD")
        }
    }

    func apply(_ input: LineItemInput, to item: inout LineItem, currency: String, isCreate: Bool, p: Principal, in tx: any StoreSession) async throws {
        var v = Validator()
        if case .value(let pid) = input.productID {
            let scope = RecordScope(schema: ProductBehavior.schema, workspaceID: p.workspaceID, currency: currency)
            guard let product = try await tx.records.get(scope, id: pid), product.deletedAt == nil else {
                throw APIError.validation("product_id", "not_found", "product_id does not name a product of this workspace.")
            }
            item.productID = pid
            if input.name.value == nil && isCreate { item.name = product.string("name") ?? item.name }
            if input.unitPrice == nil && isCreate {
                guard product.string("currency") == currency, case .number(let price)? = product["price"],
                      let minor = Money.minorUnits(price, currency: currency) else {
                    throw APIError.validation("unit_price", "required", "unit_price is required (the product has no price in \(currency)).")
                }
                item.unitPrice = minor
            }
        } else if case .null = input.productID {
            item.productID = nil
        }
        if let name = input.name.value {
            let t = name.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.isEmpty || t.count > 200 { v.add("name", "invalid_value", "name is 1 to 200 characters.") } else { item.name = t }
        } else if case .null = input.name {
            v.add("name", "not_nullable", "name cannot be null.")
        }
        if let q = input.quantity {
            if case .number(let n) = q, let scaled = Decimals.scaled(n, scale: 4), scaled > 0 { item.quantity = scaled } else {
                v.add("quantity", "out_of_range", "quantity must be a positive number with at most 4 decimals.")
            }
        }
        if let u = input.unitPrice {
            if case .number(let n) = u {
                if let minor = Money.minorUnits(n, currency: currency) {
                    if minor < 0 { v.add("unit_price", "negative", "unit_price must not be negative.") } else { item.unitPrice = minor }
                } else {
                    let refusal = Money.refusal(n, currency: currency, subject: "unit_price")
                    v.add("unit_price", refusal.code, refusal.message)
                }
            } else {
                v.add("unit_price", "invalid_type", "unit_price must be a number.")
            }
        }
        if let d = input.discountPercent {
            if case .number(let n) = d, let scaled = Decimals.scaled(n, scale: 2), (0...10_000).contains(scaled) { item.discount = scaled } else {
                v.add("discount_percent", "out_of_range", "discount_percent must be from 0 to 100 with at most 2 decimals.")
            }
        }
        if isCreate && item.name.isEmpty { v.add("name", "required", "name is required (or give a product_id).") }
        try v.check()
        item.total = LineItem.total(quantity: item.quantity, unitPrice: item.unitPrice, discount: item.discount)
    }

    /// Sets the deal's value to the sum of its line items: version + 1, one history row, one `deal.updated`.
    func recompute(_ p: Principal, deal: Record, scope: RecordScope, at now: Date, in tx: any StoreSession) async throws -> Record {
        let items = try await tx.lineItems.list(p.workspaceID, dealID: deal.id)
        let currency = deal.string("currency") ?? scope.currency
        let sum = items.reduce(Int64(0)) { $0 + $1.total }
        let newValue: JSONValue = items.isEmpty ? deal.values["value"] ?? .null : .number(Money.format(sum, currency: currency))
        guard newValue != (deal.values["value"] ?? .null) else { return deal }
        var updated = deal
        updated["value"] = newValue
        updated.version += 1
        updated.updatedAt = now
        try await tx.records.update(scope, updated)
        let old = deal.values["value"] ?? .null
        try await tx.history.append([HistoryEntry(workspaceID: p.workspaceID, objectType: "deal", objectID: deal.id, field: "value", oldValue: old,
                                                  newValue: newValue, actor: p.actor, source: .api, at: now)])
        try await tx.outbox.append(deals.baseEvent("deal.updated", updated, p: p, previous: ["value": old], changed: ["value"], at: now))
        return updated
    }

    public func create(_ p: Principal, dealID: String, input: LineItemInput, meta: RequestMeta) async throws -> (LineItem, String) {
        try p.require(Scope("deals", .write))
        let now = clock.now()
        return try await store.write { tx in
            let (d, scope) = try await deal(p, dealID, in: tx)
            let currency = d.string("currency") ?? scope.currency
            let existing = try await tx.lineItems.list(p.workspaceID, dealID: d.id)
            guard existing.count < 500 else { throw APIError.conflict("A deal holds at most 500 line items.") }
            var item = LineItem(id: "li_\(ULID.make(at: now))", workspaceID: p.workspaceID, dealID: d.id, productID: nil, name: "", quantity: 10_000,
                                unitPrice: 0, discount: 0, total: 0, position: existing.count, createdAt: now, updatedAt: now, version: 1)
            if input.unitPrice == nil, input.productID.value == nil {
                throw APIError.validation("unit_price", "required", "unit_price is required (or give a product_id with a price).")
            }
            try await apply(input, to: &item, currency: currency, isCreate: true, p: p, in: tx)
            try await tx.lineItems.insert(item)
            _ = try await recompute(p, deal: d, scope: scope, at: now, in: tx)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "line_item.created", objectType: "deal",
                                                 objectID: d.id, changes: .object(["line_item_id": .string(item.id)]), requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
            return (item, currency)
        }
    }

    public func update(_ p: Principal, dealID: String, id: String, input: LineItemInput, expectedVersion: Int?, meta: RequestMeta) async throws -> (LineItem, String) {
        try p.require(Scope("deals", .write))
        let now = clock.now()
        return try await store.write { tx in
            let (d, scope) = try await deal(p, dealID, in: tx)
            let currency = d.string("currency") ?? scope.currency
            guard var item = try await tx.lineItems.list(p.workspaceID, dealID: d.id).first(where: { $0.id == id }) else {
                throw APIError.notFound("Line item")
            }
            if let expectedVersion, expectedVersion != item.version { throw APIError.versionConflict(current: item.version) }
            let before = item
            try await apply(input, to: &item, currency: currency, isCreate: false, p: p, in: tx)
            guard item != before else { return (item, currency) }
            item.version += 1
            item.updatedAt = now
            try await tx.lineItems.update(item)
            _ = try await recompute(p, deal: d, scope: scope, at: now, in: tx)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "line_item.updated", objectType: "deal",
                                                 objectID: d.id, changes: .object(["line_item_id": .string(item.id)]), requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
            return (item, currency)
        }
    }

    public func delete(_ p: Principal, dealID: String, id: String, meta: RequestMeta) async throws {
        try p.require(Scope("deals", .write))
        let now = clock.now()
        try await store.write { tx in
            let (d, scope) = try await deal(p, dealID, in: tx)
            guard try await tx.lineItems.list(p.workspaceID, dealID: d.id).contains(where: { $0.id == id }) else { throw APIError.notFound("Line item") }
            try await tx.lineItems.delete(p.workspaceID, id: id)
            var deal = d
            if try await tx.lineItems.count(p.workspaceID, dealID: d.id) == 0 {
                // The last item leaves the deal at 0 rather than an unrelated earlier figure.
                deal["value"] = .number("0")
                if deal.values["value"] != d.values["value"] {
                    deal.version += 1
                    deal.updatedAt = now
                    try await tx.records.update(scope, deal)
                    try await tx.history.append([HistoryEntry(workspaceID: p.workspaceID, objectType: "deal", objectID: d.id, field: "value",
                                                              oldValue: d.values["value"] ?? .null, newValue: .number("0"), actor: p.actor,
                                                              source: .api, at: now)])
                    try await tx.outbox.append(deals.baseEvent("deal.updated", deal, p: p, previous: ["value": d.values["value"] ?? .null],
                                                               changed: ["value"], at: now))
                }
            } else {
                _ = try await recompute(p, deal: d, scope: scope, at: now, in: tx)
            }
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "line_item.deleted", objectType: "deal",
                                                 objectID: d.id, changes: .object(["line_item_id": .string(id)]), requestID: meta.requestID,
                                                 ip: meta.ip, createdAt: now))
        }
    }
}
