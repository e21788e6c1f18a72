import Foundation

/// Deals move through a pipeline's stages; status, probability, closed_at and currency follow from the stage and pipeline.
public struct DealBehavior: ObjectBehavior {
    public static let schema = ObjectSchema(
        type: "deal", plural: "deals", prefix: .deal, table: "deals",
        fields: [
            FieldSpec("name", .text(max: 200), nullable: false, sortable: true, searchable: true, lowerColumn: "name_lower"),
            FieldSpec("pipeline_id", .reference(.pipeline), nullable: false),
            FieldSpec("stage_id", .reference(.stage), nullable: false),
            FieldSpec("status", .enumeration(StageType.allCases.map(\.rawValue)), nullable: false, writable: false),
            FieldSpec("currency", .text(max: 3), nullable: false),
            FieldSpec("value", .money, sortable: true),
            FieldSpec("probability", .probability, sortable: true),
            FieldSpec("probability_overridden", .bool, nullable: false, writable: false, filterable: false),
            FieldSpec("expected_close_date", .date, sortable: true),
            FieldSpec("closed_at", .datetime, writable: false, sortable: true),
            FieldSpec("lost_reason", .text(max: 500)),
            FieldSpec("owner_id", .reference(.user)),
            FieldSpec("visibility", .enumeration(["workspace", "private"]), nullable: false),
            FieldSpec("company_id", .reference(.company)),
            FieldSpec("contacts", .links, filterable: false),
            FieldSpec("source", .text(max: 100)),
            FieldSpec("stage_entered_at", .datetime, writable: false, sortable: true),
            FieldSpec("last_activity_at", .datetime, writable: false, sortable: true),
        ],
        requiredOnCreate: ["name", "stage_id"], derivedFields: ["last_activity_at", "probability_overridden"], nameField: "name", mergeable: false)

    public var schema: ObjectSchema { DealBehavior.schema }
    public init() {}

    public var extraInputKeys: Set<String> { ["add_contacts", "remove_contacts"] }

    public func listFilter(_ param: String, _ value: String, parser: FilterParser, workspace: Workspace) throws -> FilterNode? {
        switch param {
        case "contact_id":
            guard TypedID<ContactKind>.isWellFormed(value) else { throw APIError.badRequest("contact_id is not a con_ id.", field: param) }
            return .linked(table: "deal_contacts", ownerColumn: "deal_id", column: "contact_id", value: value)
        case "is_stale":
            guard let b = try ListQuery.bool(value, param) else { return nil }
            return .stale(nowMillis: Timestamp.millis(parser.now), defaultRotDays: workspace.settings.defaultRotDays, isStale: b)
        case "expected_close_before", "expected_close_after":
            guard value.count == 10, Timestamp.parse(value) != nil else { throw APIError.badRequest("\(param) must be a date YYYY-MM-DD.", field: param) }
            return try parser.condition(field: "expected_close_date", op: param.hasSuffix("before") ? .lte : .gte, value: .string(value), path: param)
        default:
            return nil
        }
    }

    public func prepare(_ record: inout Record, previous: Record?, body: [String: JSONValue], scope: RecordScope, principal: Principal,
                        at now: Date, in tx: any StoreSession) async throws {
        guard let stageID = record.string("stage_id"), let stage = try await tx.pipelines.stage(scope.workspaceID, id: stageID), stage.deletedAt == nil,
              let pipeline = try await tx.pipelines.pipeline(scope.workspaceID, id: stage.pipelineID.rawValue), pipeline.deletedAt == nil
        else { throw APIError.validation("stage_id", "not_found", "stage_id does not name a stage of this workspace.") }
        let requestedPipeline = body["pipeline_id"]?.stringValue
        let currentPipeline = requestedPipeline ?? previous?.string("pipeline_id") ?? stage.pipelineID.rawValue
        if stage.pipelineID.rawValue != currentPipeline {
            throw APIError.validation("stage_id", "not_in_pipeline", "The stage belongs to another pipeline; set pipeline_id too to move pipelines.")
        }
        record["pipeline_id"] = .string(stage.pipelineID.rawValue)
        if let c = body["currency"]?.stringValue, c != pipeline.currency {
            throw APIError.validation("currency", "invalid_value", "A deal's currency is its pipeline's (\(pipeline.currency)).")
        }
        record["currency"] = .string(pipeline.currency)
        if previous != nil, body["value"] != nil, try await tx.lineItems.count(scope.workspaceID, dealID: record.id) > 0 {
            throw APIError.validation("value", "derived", "value is the sum of the line items while the deal has any.")
        }
        if body.keys.contains("probability") {
            record["probability_overridden"] = .bool(body["probability"] != .null)
        } else if previous == nil {
            record["probability_overridden"] = .bool(false)
        }
        let moved = previous?.string("stage_id") != stageID
        if moved {
            if let previous, let fromID = previous.string("stage_id") {
                try await checkMove(record, from: fromID, to: stage, in: tx, scope: scope)
            }
            try await checkRequired(record, for: stage)
            record["stage_entered_at"] = .string(Timestamp.format(now))
            record["status"] = .string(stage.type.rawValue)
            let wasClosed = previous.map { $0.string("status") != "open" } ?? false
            if stage.type == .open {
                record["closed_at"] = .null
                record["lost_reason"] = .null
            } else if !wasClosed || previous?.string("status") != stage.type.rawValue {
                record["closed_at"] = .string(Timestamp.format(now))
            }
        }
        if record.string("status") == "lost" {
            try await checkLostReason(record, in: tx, scope: scope)
        } else if body["lost_reason"] != nil, body["lost_reason"] != .null {
            throw APIError.validation("lost_reason", "not_lost", "lost_reason applies to lost deals only.")
        }
        if record["probability_overridden"] != .bool(true) {
            record["probability"] = .number(Probability.format(stage.probability))
        }
        try await applyContacts(&record, body: body, scope: scope, principal: principal, in: tx)
    }

    func checkMove(_ record: Record, from fromID: String, to target: Stage, in tx: any StoreSession, scope: RecordScope) async throws {
        guard let from = try await tx.pipelines.stage(scope.workspaceID, id: fromID) else { return }
        if !from.rules.allowedNextStageIDs.isEmpty && !from.rules.allowedNextStageIDs.contains(target.id.rawValue) {
            throw APIError(.invalidTransition, "Moving from \(from.name) to \(target.name) is not allowed.",
                           details: [ErrorDetail(field: "stage_id", code: "not_allowed", message: "Allowed next stages: \(from.rules.allowedNextStageIDs.joined(separator: ", ")).")])
        }
        guard from.pipelineID == target.pipelineID, from.type == .open, target.type == .open, target.position > from.position + 1 else { return }
        let stages = try await tx.pipelines.stages(scope.workspaceID, pipelineID: target.pipelineID)
        let skipped = stages.filter { $0.type == .open && $0.position > from.position && $0.position < target.position }
        if from.rules.disallowSkip || skipped.contains(where: \.rules.disallowSkip) {
            let names = skipped.map(\.name).joined(separator: ", ")
            throw APIError(.invalidTransition, "This move skips \(names), which may not be skipped.",
                           details: skipped.map { ErrorDetail(field: "stage_id", code: "skipped_stage", message: "Skips \($0.name) (\($0.id.rawValue)).") })
        }
    }

    func checkRequired(_ record: Record, for stage: Stage) async throws {
        var missing: [ErrorDetail] = []
        for f in stage.rules.requiredFields {
            let present: Bool
            if f.hasPrefix("custom_fields.") {
                present = record.customFields[String(f.dropFirst("custom_fields.".count))].map { $0 != .null } ?? false
            } else if f == "contacts" {
                if case .array(let items)? = record["contacts"] { present = !items.isEmpty } else { present = false }
            } else {
                present = record[f] != nil
            }
            if !present { missing.append(ErrorDetail(field: f, code: "required", message: "\(f) is required to enter \(stage.name).")) }
        }
        if !missing.isEmpty {
            throw APIError(.invalidTransition, "Missing fields to enter \(stage.name): \(missing.compactMap(\.field).joined(separator: ", ")).", details: missing)
        }
    }

    func checkLostReason(_ record: Record, in tx: any StoreSession, scope: RecordScope) async throws {
        guard let ws = try await tx.identity.workspace(scope.workspaceID) else { return }
        let reason = record.string("lost_reason")
        if ws.settings.requireLostReason && reason == nil {
            throw APIError(.invalidTransition, "A lost_reason is required to mark the deal lost.",
                           details: [ErrorDetail(field: "lost_reason", code: "required", message: "lost_reason is required.")])
        }
        if let reason, !ws.settings.lostReasons.isEmpty, !ws.settings.lostReasons.contains(reason) {
            throw APIError.validation("lost_reason", "invalid_value", "lost_reason must be one of: \(ws.settings.lostReasons.joined(separator: ", ")).")
        }
    }

    /// `contacts` replaces the links; `add_contacts` / `remove_contacts` change them. Each link is `{contact_id, role?}`.
    func applyContacts(_ record: inout Record, body: [String: JSONValue], scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        guard body["contacts"] != nil || body["add_contacts"] != nil || body["remove_contacts"] != nil else {
            if record["contacts"] == nil { record["contacts"] = .array([]) }
            return
        }
        var links: [(String, String?)] = []
        if let raw = body["contacts"] {
            links = raw == .null ? [] : try parseLinks(raw, field: "contacts")
        } else if case .array(let items)? = record["contacts"] {
            links = items.compactMap { $0.objectValue.flatMap { o in o["contact_id"]?.stringValue.map { ($0, o["role"]?.stringValue) } } }
        }
        if let raw = body["add_contacts"] { links += try parseLinks(raw, field: "add_contacts") }
        if let raw = body["remove_contacts"] {
            let drop = Set(try parseLinks(raw, field: "remove_contacts").map(\.0))
            links.removeAll { drop.contains($0.0) }
        }
        var seen = Set<String>()
        links = links.filter { seen.insert($0.0).inserted }
        guard links.count <= 100 else { throw APIError.validation("contacts", "too_many", "A deal links at most 100 contacts.") }
        let contactScope = RecordScope(schema: ContactBehavior.schema, workspaceID: scope.workspaceID, currency: scope.currency)
        let found = try await tx.records.getMany(contactScope, ids: links.map(\.0))
        for (i, link) in links.enumerated() {
            guard let c = found.first(where: { $0.id == link.0 }), c.deletedAt == nil, c.isVisible(to: principal) else {
                throw APIError.validation("contacts[\(i)].contact_id", "not_found", "\(link.0) is not a contact of this workspace.")
            }
        }
        record["contacts"] = .array(links.map { .object(["contact_id": .string($0.0), "role": $0.1.map(JSONValue.string) ?? .null]) })
    }

    func parseLinks(_ raw: JSONValue, field: String) throws -> [(String, String?)] {
        guard case .array(let items) = raw else { throw APIError.validation(field, "invalid_type", "\(field) must be an array.") }
        return try items.enumerated().map { i, item in
            if case .string(let id) = item { return (id, nil) }
            guard case .object(let o) = item, case .string(let id)? = o["contact_id"] else {
                throw APIError.validation("\(field)[\(i)]", "invalid_type", "Each link is {contact_id, role?}.")
            }
            for k in o.keys where k != "contact_id" && k != "role" {
                throw APIError.validation("\(field)[\(i)].\(k)", "unknown_field", "Unknown field \(k).")
            }
            if let role = o["role"], role != .null {
                guard case .string(let r) = role, r.count <= 100 else { throw APIError.validation("\(field)[\(i)].role", "invalid_type", "role is a string of up to 100 characters.") }
                return (id, r)
            }
            return (id, nil)
        }
    }

    public func check(_ record: Record, previous: Record?, scope: RecordScope, principal: Principal, in tx: any StoreSession) async throws {
        try await References.checkOwner(record, previous: previous, scope: scope, in: tx)
        try await References.checkRecord("company_id", of: record, previous: previous, target: CompanyBehavior.schema, scope: scope,
                                         principal: principal, in: tx)
    }

    public func eventTypes(previous: Record, record: Record, changed: [String]) -> [String] {
        guard changed.contains("stage_id") else { return ["deal.updated"] }
        var types = ["deal.stage_changed"]
        let before = previous.string("status"), after = record.string("status")
        if before != after {
            switch after {
            case "won": types.append("deal.won")
            case "lost": types.append("deal.lost")
            default: types.append("deal.reopened")
            }
        }
        return types
    }

    public func afterSave(previous: Record?, record: Record, body: [String: JSONValue], scope: RecordScope, principal: Principal, at now: Date,
                          in tx: any StoreSession) async throws {
        let from = previous?.string("stage_id")
        if from != record.string("stage_id"), let to = record.string("stage_id") {
            var seconds: Int?
            if let previous, let entered = previous.string("stage_entered_at").flatMap(Timestamp.parse) {
                seconds = max(0, Int(now.timeIntervalSince(entered)))
            }
            try await tx.pipelines.appendMove(StageMove(workspaceID: scope.workspaceID, dealID: record.id, fromStageID: from, toStageID: to,
                                                        movedAt: now, movedBy: ActorRef(type: .user, id: principal.userID.rawValue),
                                                        timeInPreviousStageSeconds: seconds))
        }
        if previous?.values["contacts"] != record.values["contacts"] {
            var ids: [String] = []
            if case .array(let items)? = record["contacts"] { ids = items.compactMap { $0.objectValue?["contact_id"]?.stringValue } }
            try await tx.lineItems.setDealContacts(scope.workspaceID, dealID: record.id, contactIDs: ids)
        }
    }

    /// `is_stale`: open, and no activity (or stage entry, if later) within the stage's rot_days or the workspace default.
    public func decorate(_ records: [Record], scope: RecordScope, at now: Date, in tx: any StoreSession) async throws -> [Record] {
        guard !records.isEmpty else { return records }
        let stages = try await tx.pipelines.stages(scope.workspaceID, ids: Array(Set(records.compactMap { $0.string("stage_id") })))
        var workspace = ContextCache.shared.get(scope.workspaceID, objectType: schema.type, now: now)?.0
        if workspace == nil { workspace = try await tx.identity.workspace(scope.workspaceID) }
        let defaultRot = workspace?.settings.defaultRotDays ?? 30
        return records.map { r in
            var r = r
            let rot = stages.first { $0.id.rawValue == r.string("stage_id") }?.rotDays ?? defaultRot
            let last = [r.string("last_activity_at"), r.string("stage_entered_at")].compactMap { $0.flatMap(Timestamp.parse) }.max()
            let stale = r.string("status") == "open" && (last.map { now.timeIntervalSince($0) > Double(rot) * 86_400 } ?? false)
            r.values["is_stale"] = .bool(stale)
            return r
        }
    }

    public func render(_ record: Record, into json: inout [String: JSONValue]) {
        json["is_stale"] = record.values["is_stale"] ?? .bool(false)
        json["probability_overridden"] = nil
        if case .array(let items)? = record["contacts"] {
            json["contact_ids"] = .array(items.compactMap { $0.objectValue?["contact_id"] })
        } else {
            json["contacts"] = .array([])
            json["contact_ids"] = .array([])
        }
    }
}
