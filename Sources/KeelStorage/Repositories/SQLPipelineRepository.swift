import Foundation
import KeelCore
import SQLKit

struct SQLPipelineRepository: PipelineRepository {
    let db: any SQLDatabase

    func decodePipeline(_ r: any SQLRow) throws -> Pipeline {
        Pipeline(id: try r.id("id"), workspaceID: try r.id("workspace_id"), name: try r.string("name"), isDefault: try r.int("is_default") != 0,
                 currency: try r.string("currency"), createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
                 createdBy: try r.optionalID("created_by"), version: try r.int("version"), deletedAt: try r.optionalDate("deleted_at"))
    }

    func decodeStage(_ r: any SQLRow) throws -> Stage {
        let rules = (try? JSONDecoder().decode(StageRules.self, from: Data(try r.string("rules").utf8))) ?? StageRules()
        return Stage(id: try r.id("id"), workspaceID: try r.id("workspace_id"), pipelineID: try r.id("pipeline_id"), name: try r.string("name"),
                     position: try r.int("position"), type: StageType(rawValue: try r.string("type")) ?? .open,
                     probability: Int64(try r.int("probability")), probabilityIsDefault: try r.int("probability_is_default") != 0,
                     forecastCategory: ForecastCategory(rawValue: try r.string("forecast_category")) ?? .pipeline, color: try r.optionalString("color"),
                     rotDays: try r.optionalInt("rot_days"), rules: rules, createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
                     version: try r.int("version"), deletedAt: try r.optionalDate("deleted_at"))
    }

    func rulesJSON(_ rules: StageRules) -> String {
        String(decoding: (try? KeelJSON.encoder.encode(rules)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func insertPipeline(_ p: Pipeline) async throws {
        try await db.raw("""
            INSERT INTO pipelines (workspace_id, id, name, is_default, currency, created_at, updated_at, created_by, version, deleted_at)
            VALUES (\(bind: p.workspaceID.rawValue), \(bind: p.id.rawValue), \(bind: p.name), \(bind: Int64(p.isDefault ? 1 : 0)), \(bind: p.currency),
                    \(bind: ms(p.createdAt)), \(bind: ms(p.updatedAt)), \(bind: p.createdBy?.rawValue), \(bind: Int64(p.version)), \(bind: ms(p.deletedAt)))
            """).run()
    }

    func updatePipeline(_ p: Pipeline) async throws {
        try await db.raw("""
            UPDATE pipelines SET name = \(bind: p.name), is_default = \(bind: Int64(p.isDefault ? 1 : 0)), currency = \(bind: p.currency),
                updated_at = \(bind: ms(p.updatedAt)), version = \(bind: Int64(p.version)), deleted_at = \(bind: ms(p.deletedAt))
            WHERE workspace_id = \(bind: p.workspaceID.rawValue) AND id = \(bind: p.id.rawValue)
            """).run()
    }

    func pipeline(_ ws: WorkspaceID, id: String) async throws -> Pipeline? {
        try await db.raw("SELECT * FROM pipelines WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id)").first().map(decodePipeline)
    }

    func pipelines(_ ws: WorkspaceID) async throws -> [Pipeline] {
        try await db.raw("SELECT * FROM pipelines WHERE workspace_id = \(bind: ws.rawValue) AND deleted_at IS NULL ORDER BY id").all().map(decodePipeline)
    }

    func insertStage(_ s: Stage) async throws {
        try await db.raw("""
            INSERT INTO stages (workspace_id, id, pipeline_id, name, position, type, probability, probability_is_default, forecast_category, color,
                                rot_days, rules, created_at, updated_at, version, deleted_at)
            VALUES (\(bind: s.workspaceID.rawValue), \(bind: s.id.rawValue), \(bind: s.pipelineID.rawValue), \(bind: s.name), \(bind: Int64(s.position)),
                    \(bind: s.type.rawValue), \(bind: s.probability), \(bind: Int64(s.probabilityIsDefault ? 1 : 0)), \(bind: s.forecastCategory.rawValue),
                    \(bind: s.color), \(bind: s.rotDays.map(Int64.init)), \(bind: rulesJSON(s.rules)), \(bind: ms(s.createdAt)), \(bind: ms(s.updatedAt)),
                    \(bind: Int64(s.version)), \(bind: ms(s.deletedAt)))
            """).run()
    }

    func updateStage(_ s: Stage) async throws {
        try await db.raw("""
            UPDATE stages SET name = \(bind: s.name), position = \(bind: Int64(s.position)), type = \(bind: s.type.rawValue), probability = \(bind: s.probability),
                probability_is_default = \(bind: Int64(s.probabilityIsDefault ? 1 : 0)), forecast_category = \(bind: s.forecastCategory.rawValue),
                color = \(bind: s.color), rot_days = \(bind: s.rotDays.map(Int64.init)), rules = \(bind: rulesJSON(s.rules)),
                updated_at = \(bind: ms(s.updatedAt)), version = \(bind: Int64(s.version)), deleted_at = \(bind: ms(s.deletedAt))
            WHERE workspace_id = \(bind: s.workspaceID.rawValue) AND id = \(bind: s.id.rawValue)
            """).run()
    }

    func stage(_ ws: WorkspaceID, id: String) async throws -> Stage? {
        try await db.raw("SELECT * FROM stages WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id)").first().map(decodeStage)
    }

    func stages(_ ws: WorkspaceID, pipelineID: PipelineID) async throws -> [Stage] {
        try await db.raw("""
            SELECT * FROM stages WHERE workspace_id = \(bind: ws.rawValue) AND pipeline_id = \(bind: pipelineID.rawValue) AND deleted_at IS NULL
            ORDER BY position, id
            """).all().map(decodeStage)
    }

    func stages(_ ws: WorkspaceID, ids: [String]) async throws -> [Stage] {
        guard !ids.isEmpty else { return [] }
        let list = boundList(ids)
        return try await db.raw("SELECT * FROM stages WHERE workspace_id = \(bind: ws.rawValue) AND id IN (" + list + ")").all().map(decodeStage)
    }

    /// Reads the trigger-maintained `stage_totals` (migration 6): a handful of rows per stage, whatever the number of deals.
    func totals(_ ws: WorkspaceID, pipelineIDs: [PipelineID], viewer: Viewer) async throws -> [String: StageTotals] {
        guard !pipelineIDs.isEmpty else { return [:] }
        let list = boundList(pipelineIDs.map(\.rawValue))
        var q: SQLQueryString = """
            SELECT stage_id, CAST(SUM(deal_count) AS BIGINT) AS n, CAST(SUM(value_sum) AS BIGINT) AS v FROM stage_totals
            WHERE workspace_id = \(bind: ws.rawValue) AND pipeline_id IN (
            """ + list + ")"
        if !viewer.seesPrivate { q += " AND (private_owner = '' OR private_owner = \(bind: viewer.userID.rawValue))" }
        q += " GROUP BY stage_id"
        var out: [String: StageTotals] = [:]
        for row in try await db.raw(q).all() {
            let count = try row.int("n")
            guard count > 0 else { continue }
            out[try row.string("stage_id")] = StageTotals(count: count, value: try row.decode(column: "v", as: Int64.self))
        }
        return out
    }

    func countOpenDeals(_ ws: WorkspaceID, pipelineID: PipelineID) async throws -> Int {
        try await db.raw("""
            SELECT COUNT(*) AS n FROM deals WHERE workspace_id = \(bind: ws.rawValue) AND pipeline_id = \(bind: pipelineID.rawValue)
            AND deleted_at IS NULL AND status = 'open'
            """).first()?.int("n") ?? 0
    }

    func countDeals(_ ws: WorkspaceID, stageID: StageID) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM deals WHERE workspace_id = \(bind: ws.rawValue) AND stage_id = \(bind: stageID.rawValue) AND deleted_at IS NULL")
            .first()?.int("n") ?? 0
    }

    func syncDealProbability(_ ws: WorkspaceID, stageID: StageID, probability: Int64) async throws {
        try await db.raw("""
            UPDATE deals SET probability = \(bind: probability)
            WHERE workspace_id = \(bind: ws.rawValue) AND stage_id = \(bind: stageID.rawValue) AND probability_overridden = 0
            """).run()
    }

    func dealIDs(_ ws: WorkspaceID, stageID: StageID) async throws -> [String] {
        try await db.raw("SELECT id FROM deals WHERE workspace_id = \(bind: ws.rawValue) AND stage_id = \(bind: stageID.rawValue) AND deleted_at IS NULL ORDER BY id")
            .all().map { try $0.string("id") }
    }

    func averageSecondsInStage(_ ws: WorkspaceID, stageID: StageID) async throws -> Double? {
        let row = try await db.raw("""
            SELECT CAST(AVG(time_in_previous_stage_seconds * 1.0) AS DOUBLE PRECISION) AS a FROM deal_stage_history
            WHERE workspace_id = \(bind: ws.rawValue) AND from_stage_id = \(bind: stageID.rawValue) AND time_in_previous_stage_seconds IS NOT NULL
            """).first()
        return try row?.decode(column: "a", as: Double?.self)
    }

    func averageOpenValue(_ ws: WorkspaceID, pipelineID: String) async throws -> Double? {
        let row = try await db.raw("""
            SELECT CAST(AVG(value * 1.0) AS DOUBLE PRECISION) AS a, MAX(currency) AS c FROM deals WHERE workspace_id = \(bind: ws.rawValue) AND pipeline_id = \(bind: pipelineID)
            AND deleted_at IS NULL AND status = 'open' AND value IS NOT NULL
            """).first()
        guard let avg = try row?.decode(column: "a", as: Double?.self) else { return nil }
        let digits = Currency.minorUnits[(try row?.decode(column: "c", as: String?.self)) ?? "USD"] ?? 2
        return avg / pow(10, Double(digits))
    }

    func appendMove(_ m: StageMove) async throws {
        try await db.raw("""
            INSERT INTO deal_stage_history (workspace_id, id, deal_id, from_stage_id, to_stage_id, moved_at, moved_by_type, moved_by_id, time_in_previous_stage_seconds)
            VALUES (\(bind: m.workspaceID.rawValue), \(bind: m.id), \(bind: m.dealID), \(bind: m.fromStageID), \(bind: m.toStageID), \(bind: ms(m.movedAt)),
                    \(bind: m.movedBy.type.rawValue), \(bind: m.movedBy.id), \(bind: m.timeInPreviousStageSeconds.map(Int64.init)))
            """).run()
    }

    func appendMoves(_ moves: [StageMove]) async throws {
        for start in stride(from: 0, to: moves.count, by: 500) {
            let rows = moves[start..<min(start + 500, moves.count)].map { m -> SQLQueryString in
                "(\(bind: m.workspaceID.rawValue), \(bind: m.id), \(bind: m.dealID), \(bind: m.fromStageID), \(bind: m.toStageID), \(bind: ms(m.movedAt)), \(bind: m.movedBy.type.rawValue), \(bind: m.movedBy.id), \(bind: m.timeInPreviousStageSeconds.map(Int64.init)))"
            }.joined(separator: ", ")
            try await db.raw("INSERT INTO deal_stage_history (workspace_id, id, deal_id, from_stage_id, to_stage_id, moved_at, moved_by_type, moved_by_id, time_in_previous_stage_seconds) VALUES " + rows).run()
        }
    }

    func moves(_ ws: WorkspaceID, dealID: String, before: (Date, String)?, limit: Int) async throws -> [StageMove] {
        var q: SQLQueryString = "SELECT * FROM deal_stage_history WHERE workspace_id = \(bind: ws.rawValue) AND deal_id = \(bind: dealID)"
        if let (at, id) = before {
            q += " AND (moved_at < \(bind: ms(at)) OR (moved_at = \(bind: ms(at)) AND id < \(bind: id)))"
        }
        q += " ORDER BY moved_at DESC, id DESC LIMIT \(bind: Int64(limit))"
        return try await db.raw(q).all().map { r in
            StageMove(id: try r.string("id"), workspaceID: ws, dealID: dealID, fromStageID: try r.optionalString("from_stage_id"),
                      toStageID: try r.string("to_stage_id"), movedAt: try r.date("moved_at"),
                      movedBy: ActorRef(type: ActorRef.Kind(rawValue: try r.string("moved_by_type")) ?? .system, id: try r.optionalString("moved_by_id")),
                      timeInPreviousStageSeconds: try r.optionalInt("time_in_previous_stage_seconds"))
        }
    }
}

struct SQLLineItemRepository: LineItemRepository {
    let db: any SQLDatabase

    func insert(_ i: LineItem) async throws {
        try await db.raw("""
            INSERT INTO line_items (workspace_id, id, deal_id, product_id, name, quantity, unit_price, discount, total, position, created_at, updated_at, version)
            VALUES (\(bind: i.workspaceID.rawValue), \(bind: i.id), \(bind: i.dealID), \(bind: i.productID), \(bind: i.name), \(bind: i.quantity),
                    \(bind: i.unitPrice), \(bind: i.discount), \(bind: i.total), \(bind: Int64(i.position)), \(bind: ms(i.createdAt)), \(bind: ms(i.updatedAt)),
                    \(bind: Int64(i.version)))
            """).run()
    }

    func insertMany(_ items: [LineItem]) async throws {
        for start in stride(from: 0, to: items.count, by: 500) {
            let rows = items[start..<min(start + 500, items.count)].map { i -> SQLQueryString in
                "(\(bind: i.workspaceID.rawValue), \(bind: i.id), \(bind: i.dealID), \(bind: i.productID), \(bind: i.name), \(bind: i.quantity), \(bind: i.unitPrice), \(bind: i.discount), \(bind: i.total), \(bind: Int64(i.position)), \(bind: ms(i.createdAt)), \(bind: ms(i.updatedAt)), \(bind: Int64(i.version)))"
            }.joined(separator: ", ")
            try await db.raw("INSERT INTO line_items (workspace_id, id, deal_id, product_id, name, quantity, unit_price, discount, total, position, created_at, updated_at, version) VALUES " + rows).run()
        }
    }

    func insertDealContacts(_ ws: WorkspaceID, links: [(String, String)]) async throws {
        for start in stride(from: 0, to: links.count, by: 1000) {
            let rows = links[start..<min(start + 1000, links.count)].map { "(\(bind: ws.rawValue), \(bind: $0.0), \(bind: $0.1))" as SQLQueryString }
                .joined(separator: ", ")
            try await db.raw("INSERT INTO deal_contacts (workspace_id, deal_id, contact_id) VALUES " + rows + " ON CONFLICT DO NOTHING").run()
        }
    }

    func update(_ i: LineItem) async throws {
        try await db.raw("""
            UPDATE line_items SET product_id = \(bind: i.productID), name = \(bind: i.name), quantity = \(bind: i.quantity), unit_price = \(bind: i.unitPrice),
                discount = \(bind: i.discount), total = \(bind: i.total), updated_at = \(bind: ms(i.updatedAt)), version = \(bind: Int64(i.version))
            WHERE workspace_id = \(bind: i.workspaceID.rawValue) AND id = \(bind: i.id)
            """).run()
    }

    func delete(_ ws: WorkspaceID, id: String) async throws {
        try await db.raw("DELETE FROM line_items WHERE workspace_id = \(bind: ws.rawValue) AND id = \(bind: id)").run()
    }

    func list(_ ws: WorkspaceID, dealID: String) async throws -> [LineItem] {
        try await db.raw("SELECT * FROM line_items WHERE workspace_id = \(bind: ws.rawValue) AND deal_id = \(bind: dealID) ORDER BY position, id").all().map { r in
            LineItem(id: try r.string("id"), workspaceID: ws, dealID: dealID, productID: try r.optionalString("product_id"), name: try r.string("name"),
                     quantity: Int64(try r.int("quantity")), unitPrice: Int64(try r.int("unit_price")), discount: Int64(try r.int("discount")),
                     total: Int64(try r.int("total")), position: try r.int("position"), createdAt: try r.date("created_at"),
                     updatedAt: try r.date("updated_at"), version: try r.int("version"))
        }
    }

    func count(_ ws: WorkspaceID, dealID: String) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM line_items WHERE workspace_id = \(bind: ws.rawValue) AND deal_id = \(bind: dealID)").first()?.int("n") ?? 0
    }

    func relinkDealContact(_ ws: WorkspaceID, from: String, to: String) async throws {
        try await db.raw("""
            DELETE FROM deal_contacts WHERE workspace_id = \(bind: ws.rawValue) AND contact_id = \(bind: from)
            AND deal_id IN (SELECT deal_id FROM deal_contacts WHERE workspace_id = \(bind: ws.rawValue) AND contact_id = \(bind: to))
            """).run()
        try await db.raw("UPDATE deal_contacts SET contact_id = \(bind: to) WHERE workspace_id = \(bind: ws.rawValue) AND contact_id = \(bind: from)").run()
        try await db.raw("""
            UPDATE deals SET contacts = REPLACE(contacts, \(bind: "\"" + from + "\""), \(bind: "\"" + to + "\""))
            WHERE workspace_id = \(bind: ws.rawValue) AND contacts LIKE \(bind: "%" + from + "%")
            """).run()
    }

    func setDealContacts(_ ws: WorkspaceID, dealID: String, contactIDs: [String]) async throws {
        try await db.raw("DELETE FROM deal_contacts WHERE workspace_id = \(bind: ws.rawValue) AND deal_id = \(bind: dealID)").run()
        guard !contactIDs.isEmpty else { return }
        let rows = contactIDs.map { "(\(bind: ws.rawValue), \(bind: dealID), \(bind: $0))" as SQLQueryString }.joined(separator: ", ")
        try await db.raw("INSERT INTO deal_contacts (workspace_id, deal_id, contact_id) VALUES " + rows).run()
    }
}
