import Foundation

public struct ScoreFactor: Sendable {
    public var name: String
    public var points: Int
    public var maxPoints: Int
    public var detail: String
}

/// A 0–100 health score from recency of activity, stage age against peers, value against the pipeline, and close-date slippage.
public struct DealScorer: Sendable {
    let store: any Store
    let clock: any KeelClock
    let deals: RecordService

    public init(store: any Store, clock: any KeelClock, deals: RecordService) {
        self.store = store
        self.clock = clock
        self.deals = deals
    }

    public func score(_ p: Principal, dealID: String) async throws -> (Int, [ScoreFactor]) {
        let deal = try await deals.get(p, id: dealID)
        let now = clock.now()
        let (stage, avgStageSeconds, avgValue, ws) = try await store.read { tx -> (Stage?, Double?, Double?, Workspace?) in
            let stage = try await tx.pipelines.stage(p.workspaceID, id: deal.string("stage_id") ?? "")
            var avgStage: Double?
            if let stage { avgStage = try await tx.pipelines.averageSecondsInStage(p.workspaceID, stageID: stage.id) }
            let avgValue = try await tx.pipelines.averageOpenValue(p.workspaceID, pipelineID: deal.string("pipeline_id") ?? "")
            return (stage, avgStage, avgValue, try await tx.identity.workspace(p.workspaceID))
        }
        switch deal.string("status") {
        case "won": return (100, [ScoreFactor(name: "status", points: 100, maxPoints: 100, detail: "The deal is won.")])
        case "lost": return (0, [ScoreFactor(name: "status", points: 0, maxPoints: 100, detail: "The deal is lost.")])
        default: break
        }
        let rot = Double(stage?.rotDays ?? ws?.settings.defaultRotDays ?? 30)
        var factors: [ScoreFactor] = []
        let last = [deal.string("last_activity_at"), deal.string("stage_entered_at")].compactMap { $0.flatMap(Timestamp.parse) }.max() ?? deal.createdAt
        let idleDays = max(0, now.timeIntervalSince(last) / 86_400)
        let recency = Int((25 * max(0, 1 - idleDays / (2 * rot))).rounded())
        factors.append(ScoreFactor(name: "activity_recency", points: recency, maxPoints: 25, detail: "\(Int(idleDays)) days since the last activity."))
        let entered = deal.string("stage_entered_at").flatMap(Timestamp.parse) ?? deal.createdAt
        let inStage = max(0, now.timeIntervalSince(entered))
        var agePoints = 15
        var ageDetail = "No peer history for this stage yet."
        if let avg = avgStageSeconds, avg > 0 {
            let ratio = inStage / avg
            agePoints = Int((25 * max(0, min(1, 2 - ratio))).rounded())
            ageDetail = String(format: "%.1f× the average time deals spend in this stage.", ratio)
        }
        factors.append(ScoreFactor(name: "stage_age", points: agePoints, maxPoints: 25, detail: ageDetail))
        let value = deal["value"].flatMap { if case .number(let n) = $0 { Double(n) } else { nil } } ?? 0
        var valuePoints = 12
        var valueDetail = "No open deals to compare with."
        if let avg = avgValue, avg > 0 {
            valuePoints = Int((25 * min(1, value / avg)).rounded())
            valueDetail = String(format: "%.0f%% of the pipeline's average open deal.", value / avg * 100)
        }
        factors.append(ScoreFactor(name: "value", points: valuePoints, maxPoints: 25, detail: valueDetail))
        var closePoints = 10
        var closeDetail = "No expected close date."
        if let close = deal.string("expected_close_date").flatMap(Timestamp.parse) {
            let days = close.timeIntervalSince(now) / 86_400
            if days >= 0 {
                closePoints = 25
                closeDetail = "Expected to close in \(Int(days)) days."
            } else {
                closePoints = Int((25 * max(0, 1 + days / 30)).rounded())
                closeDetail = "The expected close date slipped \(Int(-days)) days ago."
            }
        }
        factors.append(ScoreFactor(name: "close_date", points: closePoints, maxPoints: 25, detail: closeDetail))
        return (min(100, factors.reduce(0) { $0 + $1.points }), factors)
    }
}
