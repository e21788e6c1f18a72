import Foundation
import KeelCore

struct UserDTO: ResponseDTO {
    let id: String
    let email: String
    let name: String
    let created_at: Date
    let updated_at: Date
    let version: Int

    init(_ u: User) {
        id = u.id.rawValue
        email = u.email
        name = u.name
        created_at = u.createdAt
        updated_at = u.updatedAt
        version = u.version
    }
}

struct SettingsDTO: ResponseDTO {
    let lost_reasons: [String]
    let require_lost_reason: Bool
    let default_rot_days: Int

    init(_ s: WorkspaceSettings) {
        lost_reasons = s.lostReasons
        require_lost_reason = s.requireLostReason
        default_rot_days = s.defaultRotDays
    }
}

struct WorkspaceDTO: ResponseDTO {
    let id: String
    let name: String
    let default_currency: String
    let timezone: String
    let settings: SettingsDTO
    let created_at: Date
    let updated_at: Date
    let created_by: String?
    let version: Int
    let role: String?

    init(_ w: Workspace, role: Role? = nil) {
        id = w.id.rawValue
        name = w.name
        default_currency = w.defaultCurrency
        timezone = w.timezone
        settings = SettingsDTO(w.settings)
        created_at = w.createdAt
        updated_at = w.updatedAt
        created_by = w.createdBy?.rawValue
        version = w.version
        self.role = role?.rawValue
    }
}

struct TokensDTO: ResponseDTO {
    let access_token: String
    let refresh_token: String
    let token_type: String
    let expires_in: Int
    let workspace: WorkspaceDTO

    init(_ t: SessionTokens) {
        access_token = t.accessToken
        refresh_token = t.refreshToken
        token_type = "Bearer"
        expires_in = t.expiresIn
        workspace = WorkspaceDTO(t.workspace, role: t.role)
    }
}

struct MemberDTO: ResponseDTO {
    let id: String
    let user_id: String
    let email: String
    let name: String
    let role: String
    let created_at: Date
    let updated_at: Date
    let version: Int

    init(_ m: MemberWithUser) {
        id = m.member.id.rawValue
        user_id = m.member.userID.rawValue
        email = m.email
        name = m.name
        role = m.member.role.rawValue
        created_at = m.member.createdAt
        updated_at = m.member.updatedAt
        version = m.member.version
    }
}

struct InvitationDTO: ResponseDTO {
    let id: String
    let email: String
    let role: String
    let status: String
    let invited_by: String
    let expires_at: Date
    let accepted_at: Date?
    let cancelled_at: Date?
    let created_at: Date
    let updated_at: Date
    let accept_url: String?

    init(_ i: Invitation, now: Date, acceptURL: String? = nil) {
        id = i.id.rawValue
        email = i.email
        role = i.role.rawValue
        status = i.status(at: now).rawValue
        invited_by = i.invitedBy.rawValue
        expires_at = i.expiresAt
        accepted_at = i.acceptedAt
        cancelled_at = i.cancelledAt
        created_at = i.createdAt
        updated_at = i.updatedAt
        accept_url = acceptURL
    }
}

struct InvitationLookupDTO: ResponseDTO {
    struct WorkspaceRef: ResponseDTO {
        let id: String
        let name: String
    }
    struct Inviter: ResponseDTO {
        let name: String
        let email: String
    }
    let id: String
    let email: String
    let role: String
    let expires_at: Date
    let workspace: WorkspaceRef
    let inviter: Inviter?

    init(_ p: InvitationPreview) {
        id = p.invitation.id.rawValue
        email = p.invitation.email
        role = p.invitation.role.rawValue
        expires_at = p.invitation.expiresAt
        workspace = WorkspaceRef(id: p.workspace.id.rawValue, name: p.workspace.name)
        inviter = p.inviter.map { Inviter(name: $0.name, email: $0.email) }
    }
}

struct AcceptedInvitationDTO: ResponseDTO {
    let member: MemberDTO
    let workspace: WorkspaceDTO
}

struct APIKeyDTO: ResponseDTO {
    let id: String
    let name: String
    let prefix: String
    let scopes: [String]
    let created_by: String
    let expires_at: Date?
    let last_used_at: Date?
    let revoked_at: Date?
    let created_at: Date
    let updated_at: Date
    let version: Int
    let secret: String?

    init(_ k: APIKey, secret: String? = nil) {
        id = k.id.rawValue
        name = k.name
        prefix = k.prefix
        scopes = k.scopes.map(\.rawValue)
        created_by = k.userID.rawValue
        expires_at = k.expiresAt
        last_used_at = k.lastUsedAt
        revoked_at = k.revokedAt
        created_at = k.createdAt
        updated_at = k.updatedAt
        version = k.version
        self.secret = secret
    }
}

struct AuditDTO: ResponseDTO {
    let id: String
    let actor: ActorRef
    let action: String
    let object_type: String?
    let object_id: String?
    let changes: JSONValue?
    let request_id: String?
    let ip: String?
    let created_at: Date

    init(_ e: AuditEntry) {
        id = e.id.rawValue
        actor = e.actor
        action = e.action
        object_type = e.objectType
        object_id = e.objectID
        changes = e.changes
        request_id = e.requestID
        ip = e.ip
        created_at = e.createdAt
    }
}
