import Foundation

/// A domain event written in the same transaction as the change it describes (transactional outbox).
public struct OutboxEvent: Sendable, Equatable {
    public var id: EventID
    public var workspaceID: WorkspaceID
    public var type: String
    public var occurredAt: Date
    public var actor: ActorRef
    public var objectType: String
    public var objectID: String
    public var payload: JSONValue
    public var causationDepth: Int

    public init(id: EventID = .generate(), workspaceID: WorkspaceID, type: String, occurredAt: Date, actor: ActorRef,
                objectType: String, objectID: String, payload: JSONValue, causationDepth: Int = 0) {
        self.id = id
        self.workspaceID = workspaceID
        self.type = type
        self.occurredAt = occurredAt
        self.actor = actor
        self.objectType = objectType
        self.objectID = objectID
        self.payload = payload
        self.causationDepth = causationDepth
    }
}
