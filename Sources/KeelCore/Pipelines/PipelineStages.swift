import Foundation

extension PipelineService {
    /// Moves a deal to a stage outside the usual rules (its stage or pipeline is going away), with history and events.
    func relocate(_ p: Principal, dealID: String, to stage: Stage, pipeline: Pipeline, at now: Date, in tx: any StoreSession) async throws {
        let (scope, _, _) = try await deals.context(p, in: tx)
        guard let previous = try await tx.records.get(scope, id: dealID), previous.deletedAt == nil else { return }
        var deal = previous
        deal["stage_id"] = .string(stage.id.rawValue)
        deal["pipeline_id"] = .string(pipeline.id.rawValue)
        deal["currency"] = .string(pipeline.currency)
        deal["status"] = .string(stage.type.rawValue)
        deal["stage_entered_at"] = .string(Timestamp.format(now))
        if stage.type == .open { deal["closed_at"] = .null } else if previous.string("status") != stage.type.rawValue {
            deal["closed_at"] = .string(Timestamp.format(now))
        }
        if deal["probability_overridden"] != .bool(true) { deal["probability"] = .number(Probability.format(stage.probability)) }
        let changes = RecordInput.diff(previous, deal, schema: DealBehavior.schema)
        deal.version += 1
        deal.updatedAt = now
        try await tx.records.update(scope, deal)
        try await deals.behavior.afterSave(previous: previous, record: deal, body: [:], scope: scope, principal: p, at: now, in: tx)
        try await tx.history.append(deals.historyRows(changes, record: deal, p: p, source: .system, at: now))
        let previousValues = Dictionary(uniqueKeysWithValues: changes.map { ($0.field, $0.old) })
        for type in deals.behavior.eventTypes(previous: previous, record: deal, changed: changes.map(\.field)) {
            try await tx.outbox.append(deals.baseEvent(type, deal, p: p, previous: previousValues, changed: changes.map(\.field), at: now))
        }
    }

    func saveStages(_ before: [Stage], _ after: [Stage], at now: Date, in tx: any StoreSession) async throws {
        for var s in after {
            if let old = before.first(where: { $0.id == s.id }) {
                guard old != s else { continue }
                s.version = old.version + 1
                s.updatedAt = now
                try await tx.pipelines.updateStage(s)
                if old.probability != s.probability {
                    try await tx.pipelines.syncDealProbability(s.workspaceID, stageID: s.id, probability: s.probability)
                }
            } else {
                try await tx.pipelines.insertStage(s)
            }
        }
    }

    func stageChanged(_ p: Principal, _ pipe: Pipeline, action: String, stageID: String, at now: Date, meta: RequestMeta, in tx: any StoreSession) async throws -> PipelineView {
        var pipe = pipe
        pipe.version += 1
        pipe.updatedAt = now
        try await tx.pipelines.updatePipeline(pipe)
        let stages = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
        try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: action, objectType: "stage", objectID: stageID,
                                             changes: .object(["pipeline_id": .string(pipe.id.rawValue)]), requestID: meta.requestID, ip: meta.ip,
                                             createdAt: now))
        try await tx.outbox.append(event("pipeline.updated", pipe, stages, p: p, at: now, changed: ["stages"]))
        return PipelineView(pipeline: pipe, stages: stages,
                            totals: try await tx.pipelines.totals(p.workspaceID, pipelineIDs: [pipe.id], viewer: Viewer(p)))
    }

    public func addStage(_ p: Principal, pipelineID: String, input: StageInput, meta: RequestMeta) async throws -> (PipelineView, Stage) {
        try p.require(PipelineService.write)
        let now = clock.now()
        return try await store.write { tx in
            let pipe = try await loadPipeline(p, pipelineID, in: tx)
            let before = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
            guard before.count < 50 else { throw APIError.conflict("A pipeline has at most 50 stages.") }
            var v = Validator()
            let (name, type, prob, fc, color, rot, rules) = validateStage(input, existing: nil, into: &v)
            if let pos = input.position, !(0...before.count).contains(pos) { v.add("position", "out_of_range", "position must be 0 to \(before.count).") }
            try v.check()
            let stage = Stage(id: .generate(at: now), workspaceID: p.workspaceID, pipelineID: pipe.id, name: name, position: 0, type: type,
                              probability: prob ?? 0, probabilityIsDefault: prob == nil,
                              forecastCategory: fc ?? StageDefaults.forecast(for: type, openIndex: 1, openCount: 1), color: color, rotDays: rot,
                              rules: rules, createdAt: now, updatedAt: now, version: 1)
            var ordered = before
            // Without a position, open stages go after the last open stage; closed ones at the end.
            let defaultPosition = type == .open ? (ordered.lastIndex { $0.type == .open }.map { $0 + 1 } ?? 0) : ordered.count
            ordered.insert(stage, at: input.position ?? defaultPosition)
            let after = StageDefaults.renumber(ordered)
            try checkAllowedNext(after, in: pipe.id)
            try await saveStages(before, after, at: now, in: tx)
            let view = try await stageChanged(p, pipe, action: "stage.created", stageID: stage.id.rawValue, at: now, meta: meta, in: tx)
            return (view, after.first { $0.id == stage.id } ?? stage)
        }
    }

    public func updateStage(_ p: Principal, pipelineID: String, stageID: String, input: StageInput, expectedVersion: Int?, meta: RequestMeta) async throws -> (PipelineView, Stage) {
        try p.require(PipelineService.write)
        let now = clock.now()
        return try await store.write { tx in
            let pipe = try await loadPipeline(p, pipelineID, in: tx)
            let before = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
            guard let existing = before.first(where: { $0.id.rawValue == stageID }) else { throw APIError.notFound("Stage") }
            if let expectedVersion, expectedVersion != existing.version { throw APIError.versionConflict(current: existing.version) }
            var v = Validator()
            let (name, type, prob, fc, color, rot, rules) = validateStage(input, existing: existing, into: &v)
            if input.position != nil { v.add("position", "not_allowed", "Reorder with PUT /pipelines/{id}/stages.") }
            try v.check()
            var ordered = before
            guard let index = ordered.firstIndex(where: { $0.id == existing.id }) else { throw APIError.notFound("Stage") }
            ordered[index].name = name
            ordered[index].type = type
            ordered[index].probabilityIsDefault = prob == nil
            if let prob { ordered[index].probability = prob }
            ordered[index].forecastCategory = fc ?? (type != existing.type ? StageDefaults.forecast(for: type, openIndex: 1, openCount: 1) : existing.forecastCategory)
            ordered[index].color = color
            ordered[index].rotDays = rot
            ordered[index].rules = rules
            let after = StageDefaults.renumber(ordered)
            do { try PipelineService.checkShape(after) } catch { throw APIError.conflict("A pipeline keeps at least one open, one won and one lost stage.") }
            try checkAllowedNext(after, in: pipe.id)
            if type != existing.type, try await tx.pipelines.countDeals(p.workspaceID, stageID: existing.id) > 0 {
                throw APIError.conflict("The type of a stage with deals cannot change; move its deals first.")
            }
            try await saveStages(before, after, at: now, in: tx)
            let view = try await stageChanged(p, pipe, action: "stage.updated", stageID: stageID, at: now, meta: meta, in: tx)
            return (view, view.stages.first { $0.id == existing.id } ?? existing)
        }
    }

    public func reorder(_ p: Principal, pipelineID: String, stageIDs: [String], meta: RequestMeta) async throws -> PipelineView {
        try p.require(PipelineService.write)
        let now = clock.now()
        return try await store.write { tx in
            let pipe = try await loadPipeline(p, pipelineID, in: tx)
            let before = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
            let known = Set(before.map(\.id.rawValue))
            var details: [ErrorDetail] = []
            var seen = Set<String>()
            for (i, id) in stageIDs.enumerated() {
                if !known.contains(id) { details.append(ErrorDetail(field: "stage_ids[\(i)]", code: "not_found", message: "\(id) is not a stage of this pipeline.")) }
                if !seen.insert(id).inserted { details.append(ErrorDetail(field: "stage_ids[\(i)]", code: "duplicate", message: "\(id) is listed twice.")) }
            }
            for id in known.subtracting(stageIDs).sorted() {
                details.append(ErrorDetail(field: "stage_ids", code: "missing", message: "\(id) is missing; list every stage exactly once."))
            }
            if !details.isEmpty { throw APIError.validation(details) }
            let after = StageDefaults.renumber(stageIDs.compactMap { id in before.first { $0.id.rawValue == id } })
            try await saveStages(before, after, at: now, in: tx)
            return try await stageChanged(p, pipe, action: "stage.reordered", stageID: stageIDs.first ?? "", at: now, meta: meta, in: tx)
        }
    }

    public func deleteStage(_ p: Principal, pipelineID: String, stageID: String, moveDealsTo: String?, meta: RequestMeta) async throws {
        try p.require(PipelineService.write)
        let now = clock.now()
        try await store.write { tx in
            let pipe = try await loadPipeline(p, pipelineID, in: tx)
            let before = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
            guard var stage = before.first(where: { $0.id.rawValue == stageID }) else { throw APIError.notFound("Stage") }
            let remaining = before.filter { $0.id != stage.id }
            do { try PipelineService.checkShape(remaining) } catch {
                throw APIError.conflict("The last \(stage.type.rawValue) stage of a pipeline cannot be deleted.")
            }
            let dealIDs = try await tx.pipelines.dealIDs(p.workspaceID, stageID: stage.id)
            var target: Stage?
            if !dealIDs.isEmpty {
                guard let moveDealsTo else {
                    throw APIError.conflict("\(dealIDs.count) deals are in this stage; pass move_deals_to=stg_... to move them.")
                }
                guard remaining.contains(where: { $0.id.rawValue == moveDealsTo }) else {
                    throw APIError.badRequest("move_deals_to must be another stage of this pipeline.", field: "move_deals_to")
                }
                target = remaining.first { $0.id.rawValue == moveDealsTo }
            }
            stage.deletedAt = now
            stage.version += 1
            stage.updatedAt = now
            try await tx.pipelines.updateStage(stage)
            let after = StageDefaults.renumber(remaining.map { s in
                var s = s
                if !s.rules.allowedNextStageIDs.isEmpty { s.rules.allowedNextStageIDs.removeAll { $0 == stageID } }
                return s
            })
            try await saveStages(remaining, after, at: now, in: tx)
            // Deals move after renumbering, so they take the target stage's new probability.
            if let target, let renumbered = after.first(where: { $0.id == target.id }) {
                for id in dealIDs { try await relocate(p, dealID: id, to: renumbered, pipeline: pipe, at: now, in: tx) }
            }
            _ = try await stageChanged(p, pipe, action: "stage.deleted", stageID: stageID, at: now, meta: meta, in: tx)
        }
    }

    public func delete(_ p: Principal, id: String, moveDealsTo: String?, meta: RequestMeta) async throws {
        try p.require(PipelineService.write)
        let now = clock.now()
        try await store.write { tx in
            var pipe = try await loadPipeline(p, id, in: tx)
            if pipe.isDefault { throw APIError.conflict("The default pipeline cannot be deleted; make another pipeline the default first.") }
            let stages = try await tx.pipelines.stages(p.workspaceID, pipelineID: pipe.id)
            let open = try await tx.pipelines.countOpenDeals(p.workspaceID, pipelineID: pipe.id)
            var target: (Pipeline, [Stage])?
            if let moveDealsTo {
                guard moveDealsTo != id, PipelineID.isWellFormed(moveDealsTo), let other = try await tx.pipelines.pipeline(p.workspaceID, id: moveDealsTo),
                      other.deletedAt == nil else {
                    throw APIError.badRequest("move_deals_to must be another pipeline of this workspace.", field: "move_deals_to")
                }
                target = (other, try await tx.pipelines.stages(p.workspaceID, pipelineID: other.id))
            } else if open > 0 {
                throw APIError.conflict("\(open) open deals are in this pipeline; pass move_deals_to=pipe_... to move them.")
            }
            for var stage in stages {
                let ids = try await tx.pipelines.dealIDs(p.workspaceID, stageID: stage.id)
                if let (other, otherStages) = target, !ids.isEmpty, let dest = otherStages.first(where: { $0.type == stage.type }) {
                    for dealID in ids { try await relocate(p, dealID: dealID, to: dest, pipeline: other, at: now, in: tx) }
                }
                stage.deletedAt = now
                stage.version += 1
                stage.updatedAt = now
                try await tx.pipelines.updateStage(stage)
            }
            pipe.deletedAt = now
            pipe.version += 1
            pipe.updatedAt = now
            try await tx.pipelines.updatePipeline(pipe)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "pipeline.deleted", objectType: "pipeline",
                                                 objectID: id, changes: moveDealsTo.map { .object(["move_deals_to": .string($0)]) },
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            try await tx.outbox.append(event("pipeline.deleted", pipe, stages, p: p, at: now))
        }
    }

    public func stageHistory(_ p: Principal, dealID: String, page: PageRequest, cursors: CursorCodec) async throws -> Page<StageMove> {
        try p.require(Scope("deals", .read))
        let fingerprint = "stage_history|\(dealID)"
        let before = try cursors.decode(page, fingerprint: fingerprint).flatMap(TimelineCursor.decode)
        let rows = try await store.read { tx in
            let (scope, _, _) = try await deals.context(p, in: tx)
            _ = try await deals.visible(p, id: dealID, scope: scope, in: tx)
            return try await tx.pipelines.moves(p.workspaceID, dealID: dealID, before: before, limit: page.limit + 1)
        }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { TimelineCursor.encode($0.movedAt, $0.id) }
    }
}
