import Foundation

/// A small, fast, seedable generator so demo data is the same for the same seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Realistic-looking CRM records for `keel seed-demo` (bulk-loaded without history, events or audit: it is demo data).
public struct DemoData {
    static let firstNames = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "John", "Katherine", "Tim",
                             "Radia", "Edsger", "Hedy", "Donald", "Sophie", "Guido", "Anita", "Bjarne", "Joan", "Niklaus", "Karen", "James",
                             "Lucia", "Mateo", "Amara", "Yuki", "Priya", "Omar", "Ingrid", "Chen", "Fatima", "Lars", "Elena", "Kwame"]
    static let lastNames = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Backus",
                            "Johnson", "Berners-Lee", "Perlman", "Dijkstra", "Lamarr", "Knuth", "Wilson", "Rossum", "Borg", "Stroustrup",
                            "Clarke", "Wirth", "Jones", "Gosling", "Garcia", "Silva", "Okafor", "Tanaka", "Sharma", "Haddad", "Larsen", "Wei",
                            "Rahman", "Nilsson", "Petrova", "Mensah"]
    static let companyWords = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne",
                               "Soylent", "Aperture", "Massive", "Dynamic", "Blue", "Red", "North", "Bright", "Silver", "Quantum", "Nimbus",
                               "Atlas", "Orion", "Vertex", "Summit", "Harbor", "Pioneer", "Crescent", "Evergreen"]
    static let companySuffixes = ["Labs", "Systems", "Industries", "Logistics", "Foods", "Health", "Capital", "Software", "Energy", "Media",
                                  "Partners", "Robotics", "Analytics", "Studios", "Networks"]
    static let industries = ["Software", "Manufacturing", "Healthcare", "Finance", "Retail", "Logistics", "Energy", "Education", "Media",
                             "Hospitality", "Construction", "Agriculture"]
    static let titles = ["CEO", "CTO", "VP Sales", "Head of Operations", "Engineer", "Procurement Manager", "Marketing Director", "Analyst",
                         "Account Executive", "Founder", "Product Manager", "CFO"]
    static let cities = [("Berlin", "DE"), ("London", "GB"), ("Paris", "FR"), ("Austin", "US"), ("Toronto", "CA"), ("Lagos", "NG"),
                         ("Tokyo", "JP"), ("Madrid", "ES"), ("Sydney", "AU"), ("São Paulo", "BR")]
    static let tagPool = ["vip", "newsletter", "partner", "churn-risk", "enterprise", "smb", "trial", "referral", "event-2026", "beta"]
    static let sources = ["website", "referral", "event", "cold-call", "import", "partner"]

    public var rng: SplitMix64
    public let workspaceID: WorkspaceID
    public let owners: [UserID]
    public let now: Date
    public let span: TimeInterval = 548 * 24 * 3600

    public init(seed: UInt64, workspaceID: WorkspaceID, owners: [UserID], now: Date) {
        rng = SplitMix64(seed: seed)
        self.workspaceID = workspaceID
        self.owners = owners
        self.now = now
    }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
    mutating func chance(_ p: Double) -> Bool { Double(rng.next() % 10_000) / 10_000 < p }
    mutating func when() -> Date { now.addingTimeInterval(-Double(rng.next() % UInt64(span))) }

    /// `n` (not negative) in at least `width` digits; `String(format:)` went through Foundation for every demo row.
    static func zeroPadded(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    public mutating func company(_ i: Int) -> Record {
        let created = when()
        let name = "\(pick(DemoData.companyWords)) \(pick(DemoData.companySuffixes)) \(i)"
        let domain = String(name.lowercased().map { $0 == " " ? "-" : $0 }) + ".example"
        let (city, country) = pick(DemoData.cities)
        var values: [String: JSONValue] = [
            "name": .string(name), "domain": .string(domain), "industry": .string(pick(DemoData.industries)),
            "size": .string(pick(CompanyBehavior.sizes)), "phone": .string("+1555" + DemoData.zeroPadded(i % 10_000_000, 7)),
            "website": .string("https://\(domain)"), "address": .object(["city": .string(city), "country": .string(country)]),
            "owner_id": .string(pick(owners).rawValue), "visibility": .string(chance(0.05) ? "private" : "workspace"),
            "annual_revenue": .number(String(Int(rng.next() % 50_000_000) + 100_000)),
        ]
        values["last_activity_at"] = .null
        return Record(id: "com_\(ULID.make(at: created))", workspaceID: workspaceID, values: values, tags: chance(0.3) ? [pick(DemoData.tagPool)] : [],
                      customFields: [:], createdAt: created, updatedAt: created, createdBy: owners.first, version: 1)
    }

    public mutating func contact(_ i: Int, companyIDs: [String]) -> Record {
        let created = when()
        let first = pick(DemoData.firstNames), last = pick(DemoData.lastNames)
        let (city, country) = pick(DemoData.cities)
        var values: [String: JSONValue] = [
            "first_name": .string(first), "last_name": .string(last),
            "email": .string("\(first.lowercased()).\(last.lowercased().filter { $0 != "-" }).\(i)@example.com"),
            "phone": .string("+4420" + DemoData.zeroPadded(i % 100_000_000, 8)), "title": .string(pick(DemoData.titles)),
            "company_id": companyIDs.isEmpty ? .null : .string(pick(companyIDs)), "owner_id": .string(pick(owners).rawValue),
            "visibility": .string(chance(0.05) ? "private" : "workspace"), "lifecycle_stage": .string(pick(ContactBehavior.lifecycleStages)),
            "source": .string(pick(DemoData.sources)), "address": .object(["city": .string(city), "country": .string(country)]),
            "email_opt_out": .bool(chance(0.1)),
        ]
        values["last_activity_at"] = .null
        var record = Record(id: "con_\(ULID.make(at: created))", workspaceID: workspaceID, values: values,
                            tags: chance(0.4) ? RecordInput.dedupe([pick(DemoData.tagPool), pick(DemoData.tagPool)]) : [],
                            customFields: [:], createdAt: created, updatedAt: created, createdBy: owners.first, version: 1)
        ContactBehavior.schema.derive(&record)
        return record
    }

    public mutating func note(parentType: String, parentID: String) -> Record {
        let created = when()
        let bodies = ["Intro call went well.", "Sent the proposal.", "Asked for a discount; escalated to sales lead.", "Follow up next quarter.",
                      "Met at the **conference**, interested in the enterprise plan."]
        return Record(id: "note_\(ULID.make(at: created))", workspaceID: workspaceID,
                      values: ["body": .string(pick(bodies)), "pinned": .bool(chance(0.05)), "related_type": .string(parentType),
                               "related_id": .string(parentID)],
                      tags: [], customFields: [:], createdAt: created, updatedAt: created, createdBy: pick(owners), version: 1)
    }
}
