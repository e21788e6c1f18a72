import Foundation

public struct DemoSizes: Sendable {
    public var companies: Int
    public var contacts: Int
    public var notes: Int
    public var leads: Int
    public var deals: Int
    public var tasks: Int
    public var activities: Int
    public init(companies: Int, contacts: Int, notes: Int, leads: Int = 0, deals: Int = 0, tasks: Int = 0, activities: Int = 0) {
        self.companies = companies
        self.contacts = contacts
        self.notes = notes
        self.leads = leads
        self.deals = deals
        self.tasks = tasks
        self.activities = activities
    }
}

public struct DemoSummary: Sendable, Encodable {
    public let workspace_id: String
    public let companies: Int
    public let contacts: Int
    public let notes: Int
    public let leads: Int
    public let deals: Int
    public let tasks: Int
    public let activities: Int
    /// The whole load: `seed-demo` sets it once the deferred indexes are built and the database is closed.
    public var seconds: Double
    /// Generating and inserting the rows alone.
    public let rows_seconds: Double

    public static func rounded(_ seconds: TimeInterval) -> Double { (seconds * 100).rounded() / 100 }
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
        try await seedPipelineData(&data, workspace: workspace, sizes: sizes, contactIDs: contactIDs, companyIDs: companyIDs, progress: progress)
        let elapsed = DemoSummary.rounded(Date().timeIntervalSince(started))
        return DemoSummary(workspace_id: workspace.id.rawValue, companies: sizes.companies, contacts: sizes.contacts, notes: sizes.notes,
                           leads: sizes.leads, deals: sizes.deals, tasks: sizes.tasks, activities: sizes.activities,
                           seconds: elapsed, rows_seconds: elapsed)
    }

    /// Three pipelines with deals spread over their stages (with stage history and line items), leads, tasks and activities.
    func seedPipelineData(_ data: inout DemoData, workspace: Workspace, sizes: DemoSizes, contactIDs: [String], companyIDs: [String],
                          progress: @Sendable (String) -> Void) async throws {
        let ws = workspace.id
        let currency = workspace.defaultCurrency
        let owner = data.owners.first
        let pipelines: [(Pipeline, [Stage])] = try await store.write { tx in
            var out: [(Pipeline, [Stage])] = []
            var existing = try await tx.pipelines.pipelines(ws)
            let now = Date()
            for name in ["Renewals", "Partnerships"] where sizes.deals > 0 && !existing.contains(where: { $0.name == name }) {
                let p = Pipeline(id: .generate(at: now), workspaceID: ws, name: name, isDefault: false, currency: currency, createdAt: now,
                                 updatedAt: now, createdBy: owner, version: 1)
                try await tx.pipelines.insertPipeline(p)
                for st in StageDefaults.defaultStages(workspaceID: ws, pipelineID: p.id, at: now) { try await tx.pipelines.insertStage(st) }
                existing.append(p)
            }
            for p in existing { out.append((p, try await tx.pipelines.stages(ws, pipelineID: p.id))) }
            return out
        }
        let scope: @Sendable (ObjectSchema) -> RecordScope = { schema in RecordScope(schema: schema, workspaceID: ws, currency: currency) }
        var done = 0
        while done < sizes.leads {
            let n = min(DemoSeeder.batch, sizes.leads - done)
            var rows: [Record] = []
            for i in 0..<n { rows.append(data.lead(done + i)) }
            let chunk = rows
            try await store.write { try await $0.records.insertMany(scope(LeadBehavior.schema), chunk) }
            done += n
        }
        var dealIDs: [String] = []
        done = 0
        while done < sizes.deals, !pipelines.isEmpty {
            let n = min(DemoSeeder.batch, sizes.deals - done)
            var rows: [Record] = [], moves: [StageMove] = [], items: [LineItem] = [], links: [(String, String)] = []
            for _ in 0..<n {
                let (pipe, stages) = data.pick(pipelines)
                let (deal, move, lineItems, contact) = data.deal(pipeline: pipe, stages: stages, contactIDs: contactIDs, companyIDs: companyIDs)
                rows.append(deal)
                moves.append(move)
                items += lineItems
                if let contact { links.append((deal.id, contact)) }
            }
            let (r, m, li, l) = (rows, moves, items, links)
            try await store.write { tx in
                try await tx.records.insertMany(scope(DealBehavior.schema), r)
                try await tx.pipelines.appendMoves(m)
                try await tx.lineItems.insertMany(li)
                try await tx.lineItems.insertDealContacts(ws, links: l)
            }
            if dealIDs.count < 100_000 { dealIDs += rows.map(\.id) }
            done += n
            if done % 50_000 == 0 || done == sizes.deals { progress("deals: \(done)/\(sizes.deals)") }
        }
        done = 0
        while done < sizes.tasks {
            let n = min(DemoSeeder.batch, sizes.tasks - done)
            var rows: [Record] = []
            for _ in 0..<n {
                let toDeal = !dealIDs.isEmpty && data.chance(0.5)
                guard toDeal || !contactIDs.isEmpty else { break }
                rows.append(toDeal ? data.task(relatedType: "deal", relatedID: data.pick(dealIDs)) : data.task(relatedType: "contact", relatedID: data.pick(contactIDs)))
            }
            let chunk = rows
            try await store.write { try await $0.records.insertMany(scope(TaskBehavior.schema), chunk) }
            done += n
        }
        done = 0
        while done < sizes.activities, !contactIDs.isEmpty {
            let n = min(DemoSeeder.batch, sizes.activities - done)
            var rows: [Record] = [], links: [(String, String, String, Date)] = []
            for _ in 0..<n {
                var related = [("contact", data.pick(contactIDs))]
                if !dealIDs.isEmpty && data.chance(0.5) { related.append(("deal", data.pick(dealIDs))) }
                let a = data.activity(related: related)
                rows.append(a)
                let at = a.string("occurred_at").flatMap(Timestamp.parse) ?? a.createdAt
                links += related.map { (a.id, $0.0, $0.1, at) }
            }
            let (r, l) = (rows, links)
            try await store.write { tx in
                try await tx.records.insertMany(scope(ActivityBehavior.schema), r)
                try await tx.activityLinks.insertMany(ws, links: l)
            }
            done += n
            if done % 100_000 == 0 || done == sizes.activities { progress("activities: \(done)/\(sizes.activities)") }
        }
        if sizes.activities > 0 {
            try await store.write { tx in
                try await tx.activityLinks.refreshLastActivity(ws, table: "contacts", relatedType: "contact")
                try await tx.activityLinks.refreshLastActivity(ws, table: "deals", relatedType: "deal")
            }
        }
    }
}
