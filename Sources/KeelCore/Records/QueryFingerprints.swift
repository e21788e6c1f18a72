import Synchronization

/// The text a list cursor is bound to: the query's type, filter tree, search text, sort and deleted flag. It is made with
/// `String(describing:)`, which walks the filter tree by reflection (6 % of a contact list), so each distinct query's text
/// is kept; the text itself is unchanged, and cursors handed out before stay valid. Keys compare as Swift values do (two
/// canonically equivalent strings are one key), as filters compare everywhere else.
public final class QueryFingerprints: Sendable {
    public static let shared = QueryFingerprints()
    static let capacity = 1024

    private struct Key: Hashable {
        let type: String
        let filter: FilterNode?
        let text: String?
        let sort: SortKey
        let includeDeleted: Bool
    }

    private let texts = Mutex<[Key: String]>([:])

    public func text(type: String, filter: FilterNode?, text: String?, sort: SortKey, includeDeleted: Bool) -> String {
        let key = Key(type: type, filter: filter, text: text, sort: sort, includeDeleted: includeDeleted)
        if let known = texts.withLock({ $0[key] }) { return known }
        let made = Self.describe(type: type, filter: filter, text: text, sort: sort, includeDeleted: includeDeleted)
        texts.withLock { texts in
            // Relative-date and stale filters carry the current time, so keys keep coming; start over when full.
            if texts.count >= Self.capacity { texts.removeAll(keepingCapacity: true) }
            texts[key] = made
        }
        return made
    }

    static func describe(type: String, filter: FilterNode?, text: String?, sort: SortKey, includeDeleted: Bool) -> String {
        "\(type)|\(String(describing: filter))|\(text ?? "")|\(String(describing: sort))|\(includeDeleted)"
    }
}
