/// Builds pages from `limit + 1` rows fetched in keyset order, so `has_more` needs no count query.
public struct CursorCodec: Sendable {
    public let secret: String
    public init(secret: String) { self.secret = secret }

    public func decode(_ page: PageRequest, fingerprint: String) throws -> Cursor? {
        guard let text = page.cursor else { return nil }
        return try Cursor.decode(text, secret: secret, expectedFingerprint: fingerprint)
    }

    /// Lists ordered by id descending (ids are time-sortable) use the last id as their only key.
    public func decodeID(_ page: PageRequest, fingerprint: String) throws -> String? {
        guard let cursor = try decode(page, fingerprint: fingerprint) else { return nil }
        guard cursor.values.count == 1, let id = cursor.values[0] else {
            throw APIError.badRequest("The cursor is invalid or belongs to another query.", field: "cursor")
        }
        return id
    }

    public func page<T: Sendable>(_ rows: [T], limit: Int, fingerprint: String, total: Int? = nil, key: (T) -> [String?]) -> Page<T> {
        guard rows.count > limit, let last = rows.prefix(limit).last else {
            return Page(items: rows, nextCursor: nil, total: total)
        }
        let cursor = Cursor(values: key(last), queryFingerprint: fingerprint).encode(secret: secret)
        return Page(items: Array(rows.prefix(limit)), nextCursor: cursor, total: total)
    }
}
