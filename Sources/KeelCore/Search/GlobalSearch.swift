import Foundation

public struct SearchHit: Sendable {
    public var type: String
    public var id: String
    public var title: String
    public var subtitle: String?
    public var score: Double
}

/// `GET /search`: ranked matches across contacts, companies, deals and leads. Exact and prefix matches on names rank
/// first, then typo-tolerant (trigram) name matches; e-mail, phone and domain match by substring.
public struct GlobalSearch: Sendable {
    let services: [String: RecordService]

    public init(services: [String: RecordService]) { self.services = services }

    public static let types = ["contact", "company", "deal", "lead"]

    struct Spec: Sendable {
        let nameField: String
        let title: @Sendable (Record) -> String
        let subtitle: @Sendable (Record) -> String?
        let substringFields: [String]
        var prefixFields: [String] = []
    }

    static let specs: [String: Spec] = [
        "contact": Spec(nameField: "display_name", title: { $0.string("display_name") ?? "" }, subtitle: { $0.string("email") ?? $0.string("title") },
                        substringFields: ["email", "phone"], prefixFields: ["first_name", "last_name"]),
        "company": Spec(nameField: "name", title: { $0.string("name") ?? "" }, subtitle: { $0.string("domain") }, substringFields: ["domain", "phone"]),
        "deal": Spec(nameField: "name", title: { $0.string("name") ?? "" }, subtitle: { r in r.string("status").map { "\($0) · \(r["value"].map { $0.jsonString() } ?? "")" } },
                     substringFields: []),
        "lead": Spec(nameField: "name", title: { $0.string("name") ?? "" }, subtitle: { $0.string("company_name") ?? $0.string("email") },
                     substringFields: ["email", "phone", "company_name"]),
    ]

    public func search(_ p: Principal, q raw: String, types: [String], limit: Int) async throws -> [SearchHit] {
        let q = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard q.count >= 3, q.count <= 200 else { throw APIError.badRequest("q needs 3 to 200 characters.", field: "q") }
        var hits: [SearchHit] = []
        for type in types {
            guard let service = services[type], let spec = GlobalSearch.specs[type], p.has(Scope(service.schema.plural, .read)) else { continue }
            var seen = Set<String>()
            // Substring candidates (names, e-mail, phone, domain) and prefix candidates for typo tolerance.
            let prefix = String(q.prefix(2))
            let nameFilter = JSONValue.object(["or": .array(
                [.object(["field": .string(spec.nameField), "op": .string("contains"), "value": .string(q)]),
                 .object(["field": .string(spec.nameField), "op": .string("starts_with"), "value": .string(prefix)])]
                + spec.prefixFields.map { .object(["field": .string($0), "op": .string("starts_with"), "value": .string(prefix)]) }
                + spec.substringFields.map { .object(["field": .string($0), "op": .string("contains"), "value": .string(q)]) })])
            let page = try await service.search(p, body: SearchBody(filter: nameFilter, sort: [spec.nameField], q: nil, limit: 200, cursor: nil,
                                                                     includeTotal: false))
            for r in page.items where seen.insert(r.id).inserted {
                let title = spec.title(r)
                let name = title.lowercased()
                var score: Double
                if name == q {
                    score = 1.0
                } else if name.hasPrefix(q) || name.split(separator: " ").contains(where: { $0.hasPrefix(q) }) {
                    score = 0.9
                } else if name.contains(q) {
                    score = 0.75
                } else if spec.substringFields.contains(where: { r.string($0)?.lowercased().contains(q) ?? false }) {
                    score = 0.7
                } else {
                    // Typo tolerance: the best trigram similarity against the whole name or any of its words.
                    let sim = ([name] + name.split(separator: " ").map(String.init)).map { Similarity.trigram(q, $0) }.max() ?? 0
                    guard sim >= 0.3 else { continue }
                    score = 0.6 * sim
                }
                hits.append(SearchHit(type: type, id: r.id, title: title, subtitle: spec.subtitle(r), score: (score * 1000).rounded() / 1000))
            }
        }
        return Array(hits.sorted { ($0.score, $1.title) > ($1.score, $0.title) }.prefix(limit))
    }
}
