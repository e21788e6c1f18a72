import Foundation
import KeelCore

struct SignupBody: StrictDecodable {
    let email: String
    let password: String
    let name: String
    let workspace_name: String
    static let allowedKeys: Set<String> = ["email", "password", "name", "workspace_name"]
}

struct LoginBody: StrictDecodable {
    let email: String
    let password: String
    let workspace_id: String?
    static let allowedKeys: Set<String> = ["email", "password", "workspace_id"]
}

struct RefreshTokenBody: StrictDecodable {
    let refresh_token: String
    static let allowedKeys: Set<String> = ["refresh_token"]
}

struct EmailBody: StrictDecodable {
    let email: String
    static let allowedKeys: Set<String> = ["email"]
}

struct ResetConfirmBody: StrictDecodable {
    let token: String
    let new_password: String
    static let allowedKeys: Set<String> = ["token", "new_password"]
}

struct SwitchWorkspaceBody: StrictDecodable {
    let workspace_id: String
    static let allowedKeys: Set<String> = ["workspace_id"]
}

struct UserPatchBody: StrictDecodable {
    let name: PatchField<String>
    let email: PatchField<String>
    let password: PatchField<String>
    let current_password: PatchField<String>
    let version: PatchField<Int>
    static let allowedKeys: Set<String> = ["name", "email", "password", "current_password", "version"]
}

struct SettingsBody: Decodable, Sendable {
    let lost_reasons: [String]?
    let require_lost_reason: Bool?
    let default_rot_days: Int?
}

struct WorkspacePatchBody: StrictDecodable {
    let name: PatchField<String>
    let default_currency: PatchField<String>
    let timezone: PatchField<String>
    let settings: PatchField<SettingsBody>
    let version: PatchField<Int>
    static let allowedKeys: Set<String> = ["name", "default_currency", "timezone", "settings", "version"]
    static let nestedKeys: [String: Set<String>] = ["settings": ["lost_reasons", "require_lost_reason", "default_rot_days"]]
}

struct CreateWorkspaceBody: StrictDecodable {
    let name: String
    let default_currency: String?
    let timezone: String?
    static let allowedKeys: Set<String> = ["name", "default_currency", "timezone"]
}

struct TransferOwnershipBody: StrictDecodable {
    let member_id: String
    static let allowedKeys: Set<String> = ["member_id"]
}

struct MemberPatchBody: StrictDecodable {
    let role: Role
    let version: Int?
    static let allowedKeys: Set<String> = ["role", "version"]
}

struct InvitationBody: StrictDecodable {
    let email: String
    let role: Role
    static let allowedKeys: Set<String> = ["email", "role"]
}

struct AcceptInvitationBody: StrictDecodable {
    let token: String
    let name: String?
    let password: String?
    static let allowedKeys: Set<String> = ["token", "name", "password"]
}

struct APIKeyCreateBody: StrictDecodable {
    let name: String
    let scopes: [String]
    let expires_at: Date?
    static let allowedKeys: Set<String> = ["name", "scopes", "expires_at"]
}

struct APIKeyPatchBody: StrictDecodable {
    let name: PatchField<String>
    let scopes: PatchField<[String]>
    let version: PatchField<Int>
    static let allowedKeys: Set<String> = ["name", "scopes", "version"]
}
