import Foundation

public struct StageInput: Sendable {
    public var name: String?
    public var type: String?
    public var probability: JSONValue?
    public var forecastCategory: String?
    public var color: JSONValue?
    public var rotDays: JSONValue?
    public var rules: StageRules?
    public var position: Int?
    public init(name: String?, type: String?, probability: JSONValue?, forecastCategory: String?, color: JSONValue?, rotDays: JSONValue?,
                rules: StageRules?, position: Int?) {
        self.name = name
        self.type = type
        self.probability = probability
        self.forecastCategory = forecastCategory
        self.color = color
        self.rotDays = rotDays
        self.rules = rules
        self.position = position
    }
}

public struct PipelineView: Sendable {
    public var pipeline: Pipeline
    public var stages: [Stage]
    public var totals: [String: StageTotals]
}

public struct BoardColumn: Sendable {
    public var stage: Stage
    public var totals: StageTotals
    public var deals: Page<Record>
}

/// Pipelines and their ordered stages; deal counts and values per stage; the kanban board.
public struct PipelineService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let deals: RecordService

    public init(store: any Store, clock: any KeelClock, deals: RecordService) {
        self.store = store
        self.clock = clock
        self.deals = deals
    }

    static let read = Scope("pipelines", .read)
    static let write = Scope("pipelines", .write)

    /// Gives a workspace its default pipeline (new workspaces, and the data migration for existing ones).
    public static func provisionDefault(workspaceID: WorkspaceID, currency: String, createdBy: UserID?, at now: Date, in tx: any StoreSession) async throws {
        let pipeline = Pipeline(id: .generate(at: now), workspaceID: workspaceID, name: "Sales", isDefault: true, currency: currency,
                                createdAt: now, updatedAt: now, createdBy: createdBy, version: 1)
        try await tx.pipelines.insertPipeline(pipeline)
        for s in StageDefaults.defaultStages(workspaceID: workspaceID, pipelineID: pipeline.id, at: now) { try await tx.pipelines.insertStage(s) }
    }

    func loadPipeline(_ p: Principal, _ id: String, in tx: any StoreSession) async throws -> Pipeline {
        guard PipelineID.isWellFormed(id), let pipe = try await tx.pipelines.pipeline(p.workspaceID, id: id), pipe.deletedAt == nil else {
            throw APIError.notFound("Pipeline")
        }
        return pipe
    }

    public func list(_ p: Principal) async throws -> [PipelineView] {
        try p.require(PipelineService.read)
        return try await store.read { tx in
            let pipes = try await tx.pipelines.pipelines(p.workspaceID)
            let totals = try await tx.pipelines.totals(p.workspaceID, pipelineIDs: pipes.map(\.id), viewer: Viewer(p))
            var out: [PipelineView] = []
            for pipe in pipes { out.append(PipelineView(pipeline: pipe, stages: try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id), totals: totals)) }
            return out
        }
    }

    /// Resolves a path's pipeline (and stage) before the controller reads a body: 404 for ids in the path comes before 415/400/422.
    public func requireExists(_ p: Principal, pipelineID: String, stageID: String? = nil) async throws {
        try p.require(PipelineService.read)
        try await store.read { tx in
            let pipe = try await loadPipeline(p, pipelineID, in: tx)
            if let stageID, try await !tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id).contains(where: { $0.id.rawValue == stageID }) {
                throw APIError.notFound("Stage")
            }
        }
    }

    public func get(_ p: Principal, id: String) async throws -> PipelineView {
        try p.require(PipelineService.read)
        return try await store.read { tx in
            let pipe = try await loadPipeline(p, id, in: tx)
            return PipelineView(pipeline: pipe, stages: try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id),
                                totals: try await tx.pipelines.totals(p.workspaceID, pipelineIDs: [pipe.id], viewer: Viewer(p)))
        }
    }

    func validateStage(_ input: StageInput, existing: Stage?, into v: inout Validator) -> (String, StageType, Int64?, ForecastCategory?, String?, Int?, StageRules) {
        let name = input.name.map { Normalize.text($0, field: "name", max: 100, into: &v) } ?? existing?.name ?? ""
        if existing == nil && input.name == nil { v.add("name", "required", "name is required.") }
        var type = existing?.type ?? .open
        if let raw = input.type {
            if let t = StageType(rawValue: raw) { type = t } else { v.add("type", "invalid_value", "type must be open, won or lost.") }
        }
        var probability: Int64? = existing.flatMap { $0.probabilityIsDefault ? nil : $0.probability }
        if let raw = input.probability {
            if raw == .null {
                probability = nil
            } else if case .number(let n) = raw, let bp = Probability.basisPoints(n) {
                probability = bp
            } else {
                v.add("probability", "out_of_range", "probability must be a number from 0 to 1 (at most 4 decimals).")
            }
        }
        var forecast = existing?.forecastCategory
        if let raw = input.forecastCategory {
            if let f = ForecastCategory(rawValue: raw) { forecast = f } else {
                v.add("forecast_category", "invalid_value", "forecast_category must be one of \(ForecastCategory.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
        }
        var color = existing?.color
        if let raw = input.color {
            if raw == .null { color = nil } else if case .string(let c) = raw, PipelineService.isHexColor(c) { color = c.lowercased() } else {
                v.add("color", "invalid_format", "color must be a hex colour such as #22c55e.")
            }
        }
        var rot = existing?.rotDays
        if let raw = input.rotDays {
            if raw == .null { rot = nil } else if case .number(let n) = raw, let d = Int(n), (1...3650).contains(d) { rot = d } else {
                v.add("rot_days", "out_of_range", "rot_days must be an integer from 1 to 3650.")
            }
        }
        let rules = input.rules ?? existing?.rules ?? StageRules()
        if rules.requiredFields.count > 50 { v.add("rules.required_fields", "too_many", "At most 50 required fields.") }
        for f in rules.requiredFields where DealBehavior.schema.field(f) == nil && !f.hasPrefix("custom_fields.") && f != "contacts" {
            v.add("rules.required_fields", "unknown_field", "\(f) is not a deal field.")
        }
        return (name, type, probability, forecast, color, rot, rules)
    }

    static func isHexColor(_ s: String) -> Bool {
        let hex = s.dropFirst()
        return s.hasPrefix("#") && (hex.count == 6 || hex.count == 3) && hex.allSatisfy(\.isHexDigit)
    }

    static func checkShape(_ stages: [Stage]) throws {
        for t in StageType.allCases where !stages.contains(where: { $0.type == t }) {
            throw APIError.validation("stages", "missing_\(t.rawValue)_stage", "A pipeline keeps at least one open, one won and one lost stage.")
        }
    }

    func checkAllowedNext(_ stages: [Stage], in pipelineID: PipelineID) throws {
        let ids = Set(stages.map(\.id.rawValue))
        for s in stages where !s.rules.allowedNextStageIDs.allSatisfy(ids.contains) {
            throw APIError.validation("rules.allowed_next_stage_ids", "not_found", "allowed_next_stage_ids must name stages of this pipeline.")
        }
    }

    public func create(_ p: Principal, name rawName: String?, currency: String?, isDefault: Bool?, stages inputs: [StageInput]?, meta: RequestMeta) async throws -> PipelineView {
        try p.require(PipelineService.write)
        var v = Validator()
        let name = Normalize.text(rawName ?? "", field: "name", max: 100, into: &v)
        if let currency, !Currency.isValid(currency) { v.add("currency", "invalid_value", "currency must be an ISO 4217 code.") }
        let now = clock.now()
        let initial = v
        return try await store.write { tx in
            guard let ws = try await tx.identity.workspace(p.workspaceID) else { throw APIError.notFound("Workspace") }
            let pipeline = Pipeline(id: .generate(at: now), workspaceID: p.workspaceID, name: name, isDefault: isDefault ?? false,
                                    currency: currency ?? ws.defaultCurrency, createdAt: now, updatedAt: now, createdBy: p.userID, version: 1)
            var stages: [Stage]
            if let inputs {
                guard !inputs.isEmpty, inputs.count <= 50 else { throw APIError.validation("stages", "out_of_range", "A pipeline has 1 to 50 stages.") }
                var v2 = initial
                stages = inputs.enumerated().map { i, input in
                    let (n, t, prob, fc, color, rot, rules) = validateStage(input, existing: nil, into: &v2)
                    return Stage(id: .generate(at: now.addingTimeInterval(Double(i) / 1000)), workspaceID: p.workspaceID, pipelineID: pipeline.id,
                                 name: n, position: i, type: t, probability: prob ?? 0, probabilityIsDefault: prob == nil,
                                 forecastCategory: fc ?? StageDefaults.forecast(for: t, openIndex: 1, openCount: 1), color: color, rotDays: rot,
                                 rules: rules, createdAt: now, updatedAt: now, version: 1)
                }
                try v2.check()
                stages = StageDefaults.renumber(stages)
                try PipelineService.checkShape(stages)
                try checkAllowedNext(stages, in: pipeline.id)
            } else {
                try initial.check()
                stages = StageDefaults.defaultStages(workspaceID: p.workspaceID, pipelineID: pipeline.id, at: now)
            }
            if pipeline.isDefault { try await clearDefault(p, in: tx, now: now) }
            try await tx.pipelines.insertPipeline(pipeline)
            for s in stages { try await tx.pipelines.insertStage(s) }
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "pipeline.created", objectType: "pipeline",
                                                 objectID: pipeline.id.rawValue, requestID: meta.requestID, ip: meta.ip, createdAt: now))
            try await tx.outbox.append(event("pipeline.created", pipeline, stages, p: p, at: now))
            return PipelineView(pipeline: pipeline, stages: stages, totals: [:])
        }
    }

    func clearDefault(_ p: Principal, in tx: any StoreSession, now: Date) async throws {
        for var other in try await tx.pipelines.pipelines(p.workspaceID) where other.isDefault {
            other.isDefault = false
            other.version += 1
            other.updatedAt = now
            try await tx.pipelines.updatePipeline(other)
        }
    }

    public func render(_ pipe: Pipeline, _ stages: [Stage], totals: [String: StageTotals]?) -> JSONValue {
        .object([
            "id": .string(pipe.id.rawValue), "name": .string(pipe.name), "is_default": .bool(pipe.isDefault), "currency": .string(pipe.currency),
            "stages": .array(stages.map { renderStage($0, currency: pipe.currency, totals: totals) }),
            "created_at": .string(Timestamp.format(pipe.createdAt)), "updated_at": .string(Timestamp.format(pipe.updatedAt)),
            "created_by": pipe.createdBy.map { .string($0.rawValue) } ?? .null, "version": .number(String(pipe.version)),
        ])
    }

    public func renderStage(_ s: Stage, currency: String, totals: [String: StageTotals]?) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(s.id.rawValue), "pipeline_id": .string(s.pipelineID.rawValue), "name": .string(s.name),
            "position": .number(String(s.position)), "type": .string(s.type.rawValue), "probability": .number(Probability.format(s.probability)),
            "forecast_category": .string(s.forecastCategory.rawValue), "color": s.color.map(JSONValue.string) ?? .null,
            "rot_days": s.rotDays.map { .number(String($0)) } ?? .null, "rules": .from(s.rules),
            "created_at": .string(Timestamp.format(s.createdAt)), "updated_at": .string(Timestamp.format(s.updatedAt)),
            "version": .number(String(s.version)),
        ]
        if let totals {
            let t = totals[s.id.rawValue] ?? StageTotals(count: 0, value: 0)
            o["deal_count"] = .number(String(t.count))
            o["deal_value"] = .number(Money.format(t.value, currency: currency))
        }
        return .object(o)
    }

    func event(_ type: String, _ pipe: Pipeline, _ stages: [Stage], p: Principal, at now: Date, changed: [String] = []) -> OutboxEvent {
        OutboxEvent(workspaceID: pipe.workspaceID, type: type, occurredAt: now, actor: p.actor, objectType: "pipeline", objectID: pipe.id.rawValue,
                    payload: .object(["object": render(pipe, stages, totals: nil), "previous": .object([:]),
                                      "changed_fields": .array(changed.map(JSONValue.string))]))
    }

    public func update(_ p: Principal, id: String, name rawName: String?, currency: String?, isDefault: Bool?, expectedVersion: Int?, meta: RequestMeta) async throws -> PipelineView {
        try p.require(PipelineService.write)
        var v = Validator()
        let name = rawName.map { Normalize.text($0, field: "name", max: 100, into: &v) }
        if let currency, !Currency.isValid(currency) { v.add("currency", "invalid_value", "currency must be an ISO 4217 code.") }
        try v.check()
        let now = clock.now()
        return try await store.write { tx in
            var pipe = try await loadPipeline(p, id, in: tx)
            if let expectedVersion, expectedVersion != pipe.version { throw APIError.versionConflict(current: pipe.version) }
            var changed: [String] = []
            if let name, name != pipe.name { pipe.name = name; changed.append("name") }
            if let currency, currency != pipe.currency {
                let deals = try await tx.pipelines.totals(p.workspaceID, pipelineIDs: [pipe.id], viewer: Viewer(userID: p.userID, seesPrivate: true))
                if deals.values.contains(where: { $0.count > 0 }) {
                    throw APIError.conflict("The currency of a pipeline with deals cannot change (stage sums never mix currencies).")
                }
                pipe.currency = currency
                changed.append("currency")
            }
            if let isDefault, isDefault != pipe.isDefault {
                guard isDefault else { throw APIError.validation("is_default", "invalid_value", "Make another pipeline the default instead.") }
                try await clearDefault(p, in: tx, now: now)
                pipe.isDefault = true
                changed.append("is_default")
            }
            let stages = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
            guard !changed.isEmpty else { return PipelineView(pipeline: pipe, stages: stages, totals: [:]) }
            pipe.version += 1
            pipe.updatedAt = now
            try await tx.pipelines.updatePipeline(pipe)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "pipeline.updated", objectType: "pipeline",
                                                 objectID: pipe.id.rawValue, requestID: meta.requestID, ip: meta.ip, createdAt: now))
            try await tx.outbox.append(event("pipeline.updated", pipe, stages, p: p, at: now, changed: changed))
            return PipelineView(pipeline: pipe, stages: stages, totals: [:])
        }
    }

    public func stages(_ p: Principal, pipelineID: String) async throws -> PipelineView { try await get(p, id: pipelineID) }

    public func board(_ p: Principal, pipelineID: String, perStage: Int) async throws -> (Pipeline, [BoardColumn]) {
        let view = try await get(p, id: pipelineID)
        var columns: [BoardColumn] = []
        for stage in view.stages {
            let page = try await deals.list(p, params: RecordListParams(query: ["stage_id": stage.id.rawValue, "status": "open"],
                                                                         page: PageRequest(limit: perStage)))
            columns.append(BoardColumn(stage: stage, totals: view.totals[stage.id.rawValue] ?? StageTotals(count: 0, value: 0), deals: page))
        }
        return (view.pipeline, columns)
    }
}
