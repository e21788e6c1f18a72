/// Workspace roles, strongest first: owner > admin > member > viewer.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case owner, admin, member, viewer

    var rank: Int {
        switch self {
        case .owner: 3
        case .admin: 2
        case .member: 1
        case .viewer: 0
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// The weakest role that may ever hold a scope (a key never exceeds its creator's role).
    public func allows(_ scope: Scope) -> Bool {
        self >= Role.minimum(for: scope)
    }

    static func minimum(for scope: Scope) -> Role {
        guard let action = scope.action else { return .viewer }
        switch (scope.resource, action) {
        case ("webhooks", _), ("audit", _), ("automations", .write), ("members", .write), ("workspace", .write): return .admin
        case ("automations", .read), ("imports", _), ("exports", _): return .member
        case (_, .read): return .viewer
        case (_, .write): return .member
        }
    }
}

/// An API permission: `<resource>:read|write`, the shorthands `crm:read|write`, or `*`.
public struct Scope: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Action: String, Sendable { case read, write }

    public static let crmResources: Set<String> = [
        "contacts", "companies", "leads", "deals", "pipelines", "products", "tasks", "activities", "notes",
    ]
    public static let resources: [String] = [
        "contacts", "companies", "leads", "deals", "pipelines", "products", "tasks", "activities", "notes",
        "webhooks", "automations", "analytics", "imports", "exports", "audit", "members", "workspace", "crm",
    ]

    public let resource: String
    public let action: Action?

    public init?(_ raw: String) {
        if raw == "*" {
            resource = "*"
            action = nil
            return
        }
        let parts = raw.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, Scope.resources.contains(String(parts[0])), let action = Action(rawValue: String(parts[1])) else {
            return nil
        }
        self.resource = String(parts[0])
        self.action = action
    }

    public init(_ resource: String, _ action: Action) {
        self.resource = resource
        self.action = action
    }

    public static let all = Scope(wildcard: ())
    private init(wildcard: Void) {
        resource = "*"
        action = nil
    }
    public var rawValue: String { action.map { "\(resource):\($0.rawValue)" } ?? "*" }
    public var description: String { rawValue }

    /// Whether holding `self` grants `required` (write implies read; crm covers the CRM families).
    public func covers(_ required: Scope) -> Bool {
        if resource == "*" { return true }
        guard let action, let needed = required.action else { return false }
        let actionOK = action == .write || needed == .read
        if resource == required.resource { return actionOK }
        if resource == "crm", Scope.crmResources.contains(required.resource) { return actionOK }
        return false
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let raw = try c.decode(String.self)
        guard let s = Scope(raw) else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown scope \(raw)") }
        self = s
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public static func name(_ resource: String, _ action: Action) -> Scope { Scope(resource, action) }
}

/// Who did something, as events, history and audit record it.
public struct ActorRef: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case user, apiKey = "api_key", automation, system, `import` }
    public var type: Kind
    public var id: String?

    public init(type: Kind, id: String?) {
        self.type = type
        self.id = id
    }

    public static let system = ActorRef(type: .system, id: nil)
}

/// The authenticated caller in one workspace: what services receive instead of an HTTP context.
public struct Principal: Sendable {
    public enum Credential: Sendable, Equatable {
        case accessToken(jti: String)
        case apiKey(APIKeyID)
        /// An automation acting on the workspace's records (its creator owns what it creates).
        case automation(id: String)
        /// Keel itself: the scheduler's time-based events.
        case system
    }

    public var userID: UserID
    public var workspaceID: WorkspaceID
    public var memberID: MemberID
    public var role: Role
    public var scopes: [Scope]
    public var credential: Credential
    /// How many automation steps led to this change; events carry it so chains can be cut off.
    public var causationDepth = 0

    public init(userID: UserID, workspaceID: WorkspaceID, memberID: MemberID, role: Role, scopes: [Scope], credential: Credential) {
        self.userID = userID
        self.workspaceID = workspaceID
        self.memberID = memberID
        self.role = role
        self.scopes = scopes
        self.credential = credential
    }

    /// Keel acting on a workspace (scheduler, automations): sees every record, owns nothing.
    public static func system(_ workspaceID: WorkspaceID, as userID: UserID = UserID(trusted: "usr_system"),
                              credential: Credential = .system, depth: Int = 0) -> Principal {
        var p = Principal(userID: userID, workspaceID: workspaceID, memberID: MemberID(trusted: "mem_system"), role: .owner, scopes: [.all],
                          credential: credential)
        p.causationDepth = depth
        return p
    }

    public var isAPIKey: Bool { if case .apiKey = credential { true } else { false } }

    public var actor: ActorRef {
        switch credential {
        case .accessToken: ActorRef(type: .user, id: userID.rawValue)
        case .apiKey(let id): ActorRef(type: .apiKey, id: id.rawValue)
        case .automation(let id): ActorRef(type: .automation, id: id)
        case .system: ActorRef.system
        }
    }

    /// The key that scopes idempotency and rate limits: the API key id or the user id, never the token.
    public var credentialKey: String {
        switch credential {
        case .accessToken: userID.rawValue
        case .apiKey(let id): id.rawValue
        case .automation(let id): id
        case .system: "system"
        }
    }

    public func has(_ scope: Scope) -> Bool {
        role.allows(scope) && scopes.contains { $0.covers(scope) }
    }

    public func require(_ scope: Scope) throws {
        guard has(scope) else {
            if !role.allows(scope) {
                throw APIError(.forbidden, "Your role (\(role.rawValue)) does not allow \(scope.rawValue).",
                               details: [ErrorDetail(code: "missing_scope", message: "Scope \(scope.rawValue) is required.", scope: scope.rawValue)])
            }
            throw APIError.missingScope(scope)
        }
    }

    public func require(role minimum: Role) throws {
        guard role >= minimum else {
            throw APIError.forbidden("This action needs the \(minimum.rawValue) role; you are \(role.rawValue).")
        }
    }
}
