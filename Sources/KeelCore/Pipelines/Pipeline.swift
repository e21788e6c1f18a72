import Foundation

public enum PipelineKind: IDKind { public static let prefix = IDPrefix.pipeline }
public enum StageKind: IDKind { public static let prefix = IDPrefix.stage }
public enum DealKind: IDKind { public static let prefix = IDPrefix.deal }
public typealias PipelineID = TypedID<PipelineKind>
public typealias StageID = TypedID<StageKind>

public enum StageType: String, Sendable, Codable, CaseIterable { case open, won, lost }
public enum ForecastCategory: String, Sendable, Codable, CaseIterable { case pipeline, bestCase = "best_case", commit, closed, omitted }

public struct StageRules: Sendable, Codable, Equatable {
    public var requiredFields: [String]
    public var disallowSkip: Bool
    public var allowedNextStageIDs: [String]

    public init(requiredFields: [String] = [], disallowSkip: Bool = false, allowedNextStageIDs: [String] = []) {
        self.requiredFields = requiredFields
        self.disallowSkip = disallowSkip
        self.allowedNextStageIDs = allowedNextStageIDs
    }

    enum CodingKeys: String, CodingKey {
        case requiredFields = "required_fields"
        case disallowSkip = "disallow_skip"
        case allowedNextStageIDs = "allowed_next_stage_ids"
    }
}

public struct Stage: Sendable, Equatable {
    public var id: StageID
    public var workspaceID: WorkspaceID
    public var pipelineID: PipelineID
    public var name: String
    public var position: Int
    public var type: StageType
    /// Basis points (0–10000).
    public var probability: Int64
    public var probabilityIsDefault: Bool
    public var forecastCategory: ForecastCategory
    public var color: String?
    public var rotDays: Int?
    public var rules: StageRules
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int
    public var deletedAt: Date?

    public init(id: StageID, workspaceID: WorkspaceID, pipelineID: PipelineID, name: String, position: Int, type: StageType, probability: Int64,
                probabilityIsDefault: Bool, forecastCategory: ForecastCategory, color: String?, rotDays: Int?, rules: StageRules,
                createdAt: Date, updatedAt: Date, version: Int, deletedAt: Date? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.pipelineID = pipelineID
        self.name = name
        self.position = position
        self.type = type
        self.probability = probability
        self.probabilityIsDefault = probabilityIsDefault
        self.forecastCategory = forecastCategory
        self.color = color
        self.rotDays = rotDays
        self.rules = rules
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
        self.deletedAt = deletedAt
    }
}

public struct Pipeline: Sendable, Equatable {
    public var id: PipelineID
    public var workspaceID: WorkspaceID
    public var name: String
    public var isDefault: Bool
    public var currency: String
    public var createdAt: Date
    public var updatedAt: Date
    public var createdBy: UserID?
    public var version: Int
    public var deletedAt: Date?

    public init(id: PipelineID, workspaceID: WorkspaceID, name: String, isDefault: Bool, currency: String, createdAt: Date, updatedAt: Date,
                createdBy: UserID?, version: Int, deletedAt: Date? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.name = name
        self.isDefault = isDefault
        self.currency = currency
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
        self.version = version
        self.deletedAt = deletedAt
    }
}

public struct StageTotals: Sendable, Equatable {
    public var count: Int
    /// Minor units of the pipeline currency.
    public var value: Int64
    public init(count: Int, value: Int64) {
        self.count = count
        self.value = value
    }
}

public struct StageMove: Sendable, Equatable {
    public var id: String
    public var workspaceID: WorkspaceID
    public var dealID: String
    public var fromStageID: String?
    public var toStageID: String
    public var movedAt: Date
    public var movedBy: ActorRef
    public var timeInPreviousStageSeconds: Int?

    public init(id: String = "smv_" + ULID.make(), workspaceID: WorkspaceID, dealID: String, fromStageID: String?, toStageID: String, movedAt: Date,
                movedBy: ActorRef, timeInPreviousStageSeconds: Int?) {
        self.id = id
        self.workspaceID = workspaceID
        self.dealID = dealID
        self.fromStageID = fromStageID
        self.toStageID = toStageID
        self.movedAt = movedAt
        self.movedBy = movedBy
        self.timeInPreviousStageSeconds = timeInPreviousStageSeconds
    }
}

public protocol PipelineRepository: Sendable {
    func insertPipeline(_ p: Pipeline) async throws
    func updatePipeline(_ p: Pipeline) async throws
    func pipeline(_ ws: WorkspaceID, id: String) async throws -> Pipeline?
    func pipelines(_ ws: WorkspaceID) async throws -> [Pipeline]
    func insertStage(_ s: Stage) async throws
    func updateStage(_ s: Stage) async throws
    func stage(_ ws: WorkspaceID, id: String) async throws -> Stage?
    /// Live stages ordered by position.
    func stages(_ ws: WorkspaceID, pipelineID: PipelineID) async throws -> [Stage]
    func stages(_ ws: WorkspaceID, ids: [String]) async throws -> [Stage]
    /// Live deals per stage the viewer can see (one grouped query).
    func totals(_ ws: WorkspaceID, pipelineIDs: [PipelineID], viewer: Viewer) async throws -> [String: StageTotals]
    func countOpenDeals(_ ws: WorkspaceID, pipelineID: PipelineID) async throws -> Int
    func countDeals(_ ws: WorkspaceID, stageID: StageID) async throws -> Int
    func appendMove(_ m: StageMove) async throws
    func appendMoves(_ moves: [StageMove]) async throws
    func moves(_ ws: WorkspaceID, dealID: String, before: (Date, String)?, limit: Int) async throws -> [StageMove]
    /// Ids of live deals in a stage (for bulk moves when a stage or pipeline goes away).
    func dealIDs(_ ws: WorkspaceID, stageID: StageID) async throws -> [String]
    /// Deals that follow their stage's probability take its new value (derived: no version bump).
    func syncDealProbability(_ ws: WorkspaceID, stageID: StageID, probability: Int64) async throws
    /// Average seconds deals spent in a stage before leaving it (from stage history).
    func averageSecondsInStage(_ ws: WorkspaceID, stageID: StageID) async throws -> Double?
    /// Average value (major units) of live open deals in a pipeline.
    func averageOpenValue(_ ws: WorkspaceID, pipelineID: String) async throws -> Double?
}

public enum StageDefaults {
    /// The i-th (1-based) of n open stages defaults to i/(n+1); won 1.0; lost 0.0.
    public static func probability(type: StageType, openIndex: Int, openCount: Int) -> Int64 {
        switch type {
        case .won: 10_000
        case .lost: 0
        case .open: Int64((Double(openIndex) / Double(openCount + 1) * 10_000).rounded())
        }
    }

    public static func forecast(for type: StageType, openIndex: Int, openCount: Int) -> ForecastCategory {
        switch type {
        case .won: .closed
        case .lost: .omitted
        case .open:
            if openCount <= 1 { .pipeline } else if openIndex == openCount { .commit } else if openIndex == openCount - 1 { .bestCase } else { .pipeline }
        }
    }

    /// Lead In, Qualified, Proposal, Negotiation, Won, Lost.
    public static func defaultStages(workspaceID: WorkspaceID, pipelineID: PipelineID, at now: Date) -> [Stage] {
        let spec: [(String, StageType, String)] = [
            ("Lead In", .open, "#94a3b8"), ("Qualified", .open, "#60a5fa"), ("Proposal", .open, "#a78bfa"),
            ("Negotiation", .open, "#f59e0b"), ("Won", .won, "#22c55e"), ("Lost", .lost, "#ef4444"),
        ]
        var stages: [Stage] = []
        for (i, (name, type, color)) in spec.enumerated() {
            let openIndex = i + 1
            stages.append(Stage(id: .generate(at: now.addingTimeInterval(Double(i) / 1000)), workspaceID: workspaceID, pipelineID: pipelineID,
                                name: name, position: i, type: type, probability: probability(type: type, openIndex: openIndex, openCount: 4),
                                probabilityIsDefault: true, forecastCategory: forecast(for: type, openIndex: openIndex, openCount: 4), color: color,
                                rotDays: nil, rules: StageRules(), createdAt: now, updatedAt: now, version: 1))
        }
        return stages
    }

    /// Recomputes default probabilities after stages are added, removed or reordered.
    public static func renumber(_ stages: [Stage]) -> [Stage] {
        let openCount = stages.filter { $0.type == .open }.count
        var openIndex = 0
        return stages.enumerated().map { i, s in
            var s = s
            s.position = i
            if s.type == .open { openIndex += 1 }
            if s.probabilityIsDefault { s.probability = probability(type: s.type, openIndex: openIndex, openCount: openCount) }
            return s
        }
    }
}
