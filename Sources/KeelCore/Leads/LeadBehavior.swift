import Foundation

public enum LeadKind: IDKind { public static let prefix = IDPrefix.lead }

public struct LeadBehavior: ObjectBehavior {
    public static let sources = ["manual", "website", "referral", "campaign", "import", "api", "other"]
    public static let statuses = ["new", "working", "qualified", "disqualified", "converted"]

    public static let schema = ObjectSchema(
        type: "lead", plural: "leads", prefix: .lead, table: "leads",
        fields: [
            FieldSpec("name", .text(max: 200), nullable: false, sortable: true, searchable: true, lowerColumn: "name_lower"),
            FieldSpec("email", .email, sortable: true, searchable: true),
            FieldSpec("phone", .phone, searchable: true, lowerColumn: "phone_digits"),
            FieldSpec("company_name", .text(max: 200), sortable: true, searchable: true, lowerColumn: "company_name_lower"),
            FieldSpec("title", .text(max: 200)),
            FieldSpec("source", .enumeration(sources), nullable: false),
            FieldSpec("status", .enumeration(statuses), nullable: false, sortable: true),
            FieldSpec("owner_id", .reference(.user)),
            FieldSpec("visibility", .enumeration(["workspace", "private"]), nullable: false),
            FieldSpec("value", .money, sortable: true),
            FieldSpec("converted_contact_id", .reference(.contact), writable: false),
            FieldSpec("converted_company_id", .reference(.company), writable: false),
            FieldSpec("converted_deal_id", .reference(.deal), writable: false),
            FieldSpec("converted_at", .datetime, writable: false, sortable: true),
            FieldSpec("last_activity_at", .datetime, writable: false, sortable: true),
        ],
        requiredOnCreate: ["name"], derivedFields: ["last_activity_at"], nameField: "name")

    public var schema: ObjectSchema { LeadBehavior.schema }
    public init() {}

    public func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                        at now: Date, in tx: any StoreSession) async throws {
        if record["source"] == nil { record["source"] = .string("manual") }
        if record["status"] == nil { record["status"] = .string("new") }
        if body["status"] == .string("converted") {
            throw APIError(.invalidTransition, "Use POST /leads/{id}/convert to convert a lead.",
                           details: [ErrorDetail(field: "status", code: "use_convert", message: "status converted is set by conversion.")])
        }
        if previous?.string("status") == "converted", previous?.values != record.values {
            throw APIError(.invalidTransition, "A converted lead cannot change.", details: [ErrorDetail(field: "status", code: "converted", message: "The lead is converted.")])
        }
    }

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        try await References.checkOwner(record, previous: previous, scope: scope, in: tx)
    }
}

public struct ConversionResult: Sendable {
    public var lead: Record
    public var contact: Record
    public var company: Record?
    public var deal: Record?
}

public struct ConvertInput: Sendable {
    public var createDeal: Bool
    public var dealName: String?
    public var pipelineID: String?
    public var stageID: String?
    public var companyID: String?
    public var contactID: String?
    public init(createDeal: Bool, dealName: String?, pipelineID: String?, stageID: String?, companyID: String?, contactID: String?) {
        self.createDeal = createDeal
        self.dealName = dealName
        self.pipelineID = pipelineID
        self.stageID = stageID
        self.companyID = companyID
        self.contactID = contactID
    }
}

/// Lead conversion: links or creates the contact and company (and optionally a deal) in one transaction.
public struct LeadConversion: Sendable {
    let store: any Store
    let clock: any KeelClock
    let leads: RecordService
    let contacts: RecordService
    let companies: RecordService
    let deals: RecordService

    public init(store: any Store, clock: any KeelClock, leads: RecordService, contacts: RecordService, companies: RecordService, deals: RecordService) {
        self.store = store
        self.clock = clock
        self.leads = leads
        self.contacts = contacts
        self.companies = companies
        self.deals = deals
    }

    public func convert(_ p: Principal, leadID: String, input: ConvertInput, meta: RequestMeta) async throws -> ConversionResult {
        try p.require(Scope("leads", .write))
        try p.require(Scope("contacts", .write))
        try p.require(Scope("companies", .write))
        if input.createDeal { try p.require(Scope("deals", .write)) }
        let now = clock.now()
        return try await store.write { tx in
            let (leadScope, _, _) = try await leads.context(p, in: tx)
            let lead = try await leads.visible(p, id: leadID, scope: leadScope, in: tx)
            switch lead.string("status") {
            case "converted":
                throw APIError(.invalidTransition, "The lead is already converted.", details: [ErrorDetail(field: "status", code: "converted", message: "Converted leads cannot convert again.")])
            case "disqualified":
                throw APIError(.invalidTransition, "A disqualified lead cannot be converted; requalify it first.",
                               details: [ErrorDetail(field: "status", code: "disqualified", message: "The lead is disqualified.")])
            default: break
            }
            let (companyScope, _, _) = try await companies.context(p, in: tx)
            let (contactScope, _, _) = try await contacts.context(p, in: tx)
            // Company: the given one, else one with the e-mail's domain or the lead's company name, else a new one.
            var company: Record?
            if let id = input.companyID {
                guard let c = try? await companies.visible(p, id: id, scope: companyScope, in: tx) else {
                    throw APIError.validation("company_id", "not_found", "company_id does not name a company.")
                }
                company = c
            } else {
                let domain = lead.string("email").flatMap { $0.split(separator: "@").last.map(String.init) }.flatMap(Domain.normalize)
                if let domain, let found = try await tx.records.find(companyScope, field: "domain", value: domain, limit: 1).first, found.isVisible(to: p) {
                    company = found
                } else if let name = lead.string("company_name") {
                    let byName = try await tx.records.find(companyScope, field: "name", value: name, limit: 1).first
                    if let byName, byName.isVisible(to: p) {
                        company = byName
                    } else {
                        company = try await companies.insert(p, body: ["name": .string(name), "owner_id": lead.values["owner_id"] ?? .null],
                                                             meta: meta, at: now, in: tx)
                    }
                }
            }
            var contact: Record
            if let id = input.contactID {
                guard let c = try? await contacts.visible(p, id: id, scope: contactScope, in: tx) else {
                    throw APIError.validation("contact_id", "not_found", "contact_id does not name a contact.")
                }
                contact = c
            } else if let email = lead.string("email"), let found = try await tx.records.find(contactScope, field: "email", value: email, limit: 1).first,
                      found.isVisible(to: p) {
                contact = found
            } else {
                let parts = (lead.string("name") ?? "").split(separator: " ", maxSplits: 1).map(String.init)
                var body: [String: JSONValue] = ["first_name": parts.first.map(JSONValue.string) ?? .null,
                                                 "last_name": parts.count > 1 ? .string(parts[1]) : .null,
                                                 "email": lead.values["email"] ?? .null, "phone": lead.values["phone"] ?? .null,
                                                 "title": lead.values["title"] ?? .null, "lifecycle_stage": .string("opportunity"),
                                                 "owner_id": lead.values["owner_id"] ?? .null, "source": .string("lead")]
                if let company { body["company_id"] = .string(company.id) }
                contact = try await contacts.insert(p, body: body, meta: meta, at: now, in: tx)
            }
            var deal: Record?
            if input.createDeal {
                var stageID = input.stageID
                if stageID == nil {
                    let pipes = try await tx.pipelines.pipelines(p.workspaceID)
                    let pipe = input.pipelineID.flatMap { id in pipes.first { $0.id.rawValue == id } } ?? pipes.first { $0.isDefault }
                    guard let pipe else { throw APIError.validation("pipeline_id", "not_found", "pipeline_id does not name a pipeline.") }
                    stageID = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id).first { $0.type == .open }?.id.rawValue
                }
                var body: [String: JSONValue] = ["name": .string(input.dealName ?? "\(lead.string("name") ?? "Lead") deal"),
                                                 "stage_id": stageID.map(JSONValue.string) ?? .null,
                                                 "contacts": .array([.object(["contact_id": .string(contact.id)])]),
                                                 "owner_id": lead.values["owner_id"] ?? .null, "source": .string("lead")]
                if let pipelineID = input.pipelineID { body["pipeline_id"] = .string(pipelineID) }
                if let company { body["company_id"] = .string(company.id) }
                if let value = lead["value"] { body["value"] = value }
                deal = try await deals.insert(p, body: body, meta: meta, at: now, in: tx)
            }
            var converted = lead
            converted["status"] = .string("converted")
            converted["converted_contact_id"] = .string(contact.id)
            converted["converted_company_id"] = company.map { .string($0.id) } ?? .null
            converted["converted_deal_id"] = deal.map { .string($0.id) } ?? .null
            converted["converted_at"] = .string(Timestamp.format(now))
            let changes = RecordInput.diff(lead, converted, schema: LeadBehavior.schema)
            converted.version += 1
            converted.updatedAt = now
            try await tx.records.update(leadScope, converted)
            try await tx.history.append(leads.historyRows(changes, record: converted, p: p, source: .api, at: now))
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "lead.converted", objectType: "lead", objectID: lead.id,
                                                 changes: leads.auditChanges(changes), requestID: meta.requestID, ip: meta.ip, createdAt: now))
            try await tx.outbox.append(leads.baseEvent("lead.converted", converted, p: p,
                                                       previous: Dictionary(uniqueKeysWithValues: changes.map { ($0.field, $0.old) }),
                                                       changed: changes.map(\.field), at: now))
            return ConversionResult(lead: converted, contact: contact, company: company, deal: deal)
        }
    }
}
