import Foundation

public struct DemoSizes: Sendable {
    public var companies: Int
    public var contacts: Int
    public var notes: Int
    public init(companies: Int, contacts: Int, notes: Int) {
        self.companies = companies
        self.contacts = contacts
        self.notes = notes
    }
}

public struct DemoSummary: Sendable, Encodable {
    public let workspace_id: String
    public let companies: Int
    public let contacts: Int
    public let notes: Int
    public let seconds: Double
}

/// Fills a workspace with reproducible demo data in large transactions (no history, events or audit: it is demo data).
public struct DemoSeeder: Sendable {
    let store: any Store
    public init(store: any Store) { self.store = store }

    static let batch = 5000

    public func run(workspaceID: WorkspaceID?, sizes: DemoSizes, seed: UInt64, progress: @Sendable (String) -> Void) async throws -> DemoSummary {
        let started = Date()
        let (workspace, owners) = try await store.read { tx -> (Workspace, [UserID]) in
            let ws: Workspace?
            if let workspaceID { ws = try await tx.identity.workspace(workspaceID) } else { ws = try await tx.identity.workspaces(limit: 1).first }
            guard let ws, ws.deletedAt == nil else { throw APIError.notFound("Workspace") }
            let members = try await tx.identity.members(ws.id, role: nil, before: nil, limit: 100).map(\.member.userID)
            return (ws, members)
        }
        guard !owners.isEmpty else { throw APIError.validation("workspace", "empty", "The workspace has no members to own records.") }
        var data = DemoData(seed: seed, workspaceID: workspace.id, owners: owners, now: Date())
        let companyScope = RecordScope(schema: CompanyBehavior.schema, workspaceID: workspace.id, currency: workspace.defaultCurrency)
        let contactScope = RecordScope(schema: ContactBehavior.schema, workspaceID: workspace.id, currency: workspace.defaultCurrency)
        let noteScope = RecordScope(schema: NoteBehavior.schema, workspaceID: workspace.id, currency: workspace.defaultCurrency)
        var companyIDs: [String] = []
        companyIDs.reserveCapacity(sizes.companies)
        var done = 0
        while done < sizes.companies {
            let n = min(DemoSeeder.batch, sizes.companies - done)
            var rows: [Record] = []
            for i in 0..<n { rows.append(data.company(done + i)) }
            let chunk = rows
            try await store.write { try await $0.records.insertMany(companyScope, chunk) }
            companyIDs += rows.map(\.id)
            done += n
            if done % 50_000 == 0 || done == sizes.companies { progress("companies: \(done)/\(sizes.companies)") }
        }
        var contactIDs: [String] = []
        done = 0
        while done < sizes.contacts {
            let n = min(DemoSeeder.batch, sizes.contacts - done)
            var rows: [Record] = []
            for i in 0..<n { rows.append(data.contact(done + i, companyIDs: companyIDs)) }
            let chunk = rows
            try await store.write { try await $0.records.insertMany(contactScope, chunk) }
            if contactIDs.count < 100_000 { contactIDs += rows.map(\.id) }
            done += n
            if done % 100_000 == 0 || done == sizes.contacts { progress("contacts: \(done)/\(sizes.contacts)") }
        }
        done = 0
        while done < sizes.notes {
            let n = min(DemoSeeder.batch, sizes.notes - done)
            var rows: [Record] = []
            for _ in 0..<n {
                let toContact = !contactIDs.isEmpty && (companyIDs.isEmpty || data.chance(0.7))
                if toContact {
                    rows.append(data.note(parentType: "contact", parentID: data.pick(contactIDs)))
                } else if !companyIDs.isEmpty {
                    rows.append(data.note(parentType: "company", parentID: data.pick(companyIDs)))
                }
            }
            let chunk = rows
            try await store.write { try await $0.records.insertMany(noteScope, chunk) }
            done += n
        }
        return DemoSummary(workspace_id: workspace.id.rawValue, companies: sizes.companies, contacts: sizes.contacts, notes: sizes.notes,
                           seconds: (Date().timeIntervalSince(started) * 100).rounded() / 100)
    }
}
