import Foundation

/// "When this happens (and these conditions hold), do these things."
public struct Automation: Sendable, Equatable {
    public var id: AutomationID
    public var workspaceID: WorkspaceID
    public var name: String
    public var description: String?
    public var isActive: Bool
    public var trigger: AutomationTrigger
    public var actions: [AutomationAction]
    /// When a `schedule` trigger fires next (nil for event triggers and inactive automations).
    public var nextRunAt: Date?
    public var createdBy: UserID
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: AutomationID, workspaceID: WorkspaceID, name: String, description: String?, isActive: Bool, trigger: AutomationTrigger,
                actions: [AutomationAction], nextRunAt: Date?, createdBy: UserID, createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.workspaceID = workspaceID
        self.name = name
        self.description = description
        self.isActive = isActive
        self.trigger = trigger
        self.actions = actions
        self.nextRunAt = nextRunAt
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

public struct AutomationCondition: Sendable, Equatable {
    public var field: String
    public var op: FilterOp
    public var value: JSONValue

    public init(field: String, op: FilterOp, value: JSONValue) {
        self.field = field
        self.op = op
        self.value = value
    }

    public var json: JSONValue { .object(["field": .string(field), "op": .string(op.rawValue), "value": value]) }
}

public struct AutomationTrigger: Sendable, Equatable {
    /// An event type, or `schedule`.
    public var event: String
    public var cron: String?
    /// The records a schedule runs over; for event triggers, the event's object type.
    public var objectType: String
    public var conditions: [AutomationCondition]

    public init(event: String, cron: String?, objectType: String, conditions: [AutomationCondition]) {
        self.event = event
        self.cron = cron
        self.objectType = objectType
        self.conditions = conditions
    }

    public var isSchedule: Bool { event == "schedule" }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["event": .string(event), "conditions": .array(conditions.map(\.json))]
        if isSchedule {
            o["cron"] = cron.map(JSONValue.string) ?? .null
            o["object_type"] = .string(objectType)
        }
        return .object(o)
    }
}

public struct AutomationAction: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case createTask = "create_task", updateField = "update_field", addTags = "add_tags", removeTags = "remove_tags"
        case assignOwner = "assign_owner", moveStage = "move_stage", createNote = "create_note", sendWebhook = "send_webhook"
        case sendEmail = "send_email"
    }

    public var type: Kind
    public var config: [String: JSONValue]

    public init(type: Kind, config: [String: JSONValue]) {
        self.type = type
        self.config = config
    }

    public var json: JSONValue { .object(["type": .string(type.rawValue), "config": .object(config)]) }
}

/// One firing of an automation and what each action did.
public struct AutomationRun: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case pending, running, completed, failed, skipped }
    public enum Source: String, Sendable, CaseIterable { case event, manual, schedule }

    public struct ActionResult: Sendable, Equatable {
        public enum Status: String, Sendable { case completed, failed, skipped }
        public var type: String
        public var status: Status
        public var error: String?
        /// What the action produced (a task id, the new owner...).
        public var output: JSONValue?

        public init(type: String, status: Status, error: String? = nil, output: JSONValue? = nil) {
            self.type = type
            self.status = status
            self.error = error
            self.output = output
        }

        public var json: JSONValue {
            var o: [String: JSONValue] = ["type": .string(type), "status": .string(status.rawValue)]
            o["error"] = error.map(JSONValue.string) ?? .null
            if let output { o["output"] = output }
            return .object(o)
        }

        public static func parse(_ v: JSONValue) -> ActionResult? {
            guard let o = v.objectValue, let t = o["type"]?.stringValue, let s = o["status"]?.stringValue.flatMap(Status.init) else { return nil }
            return ActionResult(type: t, status: s, error: o["error"]?.stringValue, output: o["output"])
        }
    }

    public var id: RunID
    public var workspaceID: WorkspaceID
    public var automationID: AutomationID
    public var eventID: String?
    public var source: Source
    public var objectType: String?
    public var objectID: String?
    public var status: Status
    public var causationDepth: Int
    public var actions: [ActionResult]
    public var error: String?
    public var createdAt: Date
    public var finishedAt: Date?

    public init(id: RunID, workspaceID: WorkspaceID, automationID: AutomationID, eventID: String?, source: Source, objectType: String?,
                objectID: String?, status: Status, causationDepth: Int, actions: [ActionResult] = [], error: String? = nil, createdAt: Date,
                finishedAt: Date? = nil) {
        self.id = id
        self.workspaceID = workspaceID
        self.automationID = automationID
        self.eventID = eventID
        self.source = source
        self.objectType = objectType
        self.objectID = objectID
        self.status = status
        self.causationDepth = causationDepth
        self.actions = actions
        self.error = error
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}

public protocol AutomationRepository: Sendable {
    func insert(_ automation: Automation) async throws
    func get(_ workspaceID: WorkspaceID, id: AutomationID) async throws -> Automation?
    func list(_ workspaceID: WorkspaceID, isActive: Bool?, before: String?, limit: Int) async throws -> [Automation]
    func update(_ automation: Automation) async throws
    func delete(_ workspaceID: WorkspaceID, id: AutomationID) async throws
    /// Active automations with an event trigger, across the given workspaces.
    func eventTriggered(_ workspaceIDs: [WorkspaceID]) async throws -> [Automation]
    /// Active schedules whose next firing is due.
    func dueSchedules(now: Date, limit: Int) async throws -> [Automation]
    /// Moves a schedule on only if nobody else did (true when this caller won the firing).
    func advanceSchedule(_ workspaceID: WorkspaceID, id: AutomationID, from: Date, to: Date?) async throws -> Bool
    /// Returns the round-robin counter before incrementing it.
    func nextRoundRobin(_ workspaceID: WorkspaceID, id: AutomationID) async throws -> Int

    func insertRun(_ run: AutomationRun) async throws
    func run(_ workspaceID: WorkspaceID, id: RunID) async throws -> AutomationRun?
    func runs(_ workspaceID: WorkspaceID, automationID: AutomationID, status: AutomationRun.Status?, before: String?, limit: Int) async throws -> [AutomationRun]
    /// Leases pending runs (and runs whose lease ran out) so no two runners take the same one.
    func claimRuns(now: Date, leaseUntil: Date, limit: Int) async throws -> [AutomationRun]
    func hasClaimableRuns(now: Date) async throws -> Bool
    func updateRun(_ run: AutomationRun) async throws
    func purgeRuns(before: Date) async throws -> Int
}
