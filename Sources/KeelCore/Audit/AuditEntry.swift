import Foundation

public struct AuditEntry: Sendable, Equatable {
    public var id: AuditID
    public var workspaceID: WorkspaceID?
    public var actor: ActorRef
    public var action: String
    public var objectType: String?
    public var objectID: String?
    public var changes: JSONValue?
    public var requestID: String?
    public var ip: String?
    public var createdAt: Date

    public init(id: AuditID = .generate(), workspaceID: WorkspaceID?, actor: ActorRef, action: String, objectType: String?,
                objectID: String?, changes: JSONValue? = nil, requestID: String? = nil, ip: String? = nil, createdAt: Date) {
        self.id = id
        self.workspaceID = workspaceID
        self.actor = actor
        self.action = action
        self.objectType = objectType
        self.objectID = objectID
        self.changes = changes
        self.requestID = requestID
        self.ip = ip
        self.createdAt = createdAt
    }
}

public struct AuditFilter: Sendable {
    public var objectType: String?
    public var objectID: String?
    public var actorID: String?
    public var action: String?
    public var from: Date?
    public var to: Date?

    public init(objectType: String? = nil, objectID: String? = nil, actorID: String? = nil, action: String? = nil, from: Date? = nil, to: Date? = nil) {
        self.objectType = objectType
        self.objectID = objectID
        self.actorID = actorID
        self.action = action
        self.from = from
        self.to = to
    }
}
