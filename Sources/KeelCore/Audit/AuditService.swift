public struct AuditService: Sendable {
    let store: any Store
    let cursors: CursorCodec

    public init(store: any Store, cursors: CursorCodec) {
        self.store = store
        self.cursors = cursors
    }

    public func list(_ p: Principal, filter: AuditFilter, page: PageRequest) async throws -> Page<AuditEntry> {
        try p.require(Scope("audit", .read))
        let fingerprint = "audit|\(filter.objectType ?? "")|\(filter.objectID ?? "")|\(filter.actorID ?? "")|\(filter.action ?? "")|"
            + "\(filter.from.map(Timestamp.format) ?? "")|\(filter.to.map(Timestamp.format) ?? "")"
        let before = try cursors.decodeID(page, fingerprint: fingerprint)
        let rows = try await store.read { try await $0.audit.list(p.workspaceID, filter: filter, before: before, limit: page.limit + 1) }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { [$0.id.rawValue] }
    }

    public func get(_ p: Principal, _ id: AuditID) async throws -> AuditEntry {
        try p.require(Scope("audit", .read))
        guard let e = try await store.read({ try await $0.audit.entry(p.workspaceID, id: id) }) else { throw APIError.notFound("Audit entry") }
        return e
    }
}
