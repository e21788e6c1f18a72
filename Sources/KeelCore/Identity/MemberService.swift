import Foundation

/// Workspace membership: listing, role changes and removal with reassignment.
public struct MemberService: Sendable {
    let store: any Store
    let clock: any KeelClock
    let cursors: CursorCodec
    /// Record types whose open records move to another member on removal; later issues register theirs.
    let reassigners: [any OwnershipReassigner]

    public init(store: any Store, clock: any KeelClock, cursors: CursorCodec, reassigners: [any OwnershipReassigner] = []) {
        self.store = store
        self.clock = clock
        self.cursors = cursors
        self.reassigners = reassigners
    }

    public func list(_ p: Principal, role: Role?, page: PageRequest) async throws -> Page<MemberWithUser> {
        try p.require(Scope("members", .read))
        let fingerprint = "members|\(role?.rawValue ?? "")"
        let before = try cursors.decodeID(page, fingerprint: fingerprint)
        let rows = try await store.read { try await $0.identity.members(p.workspaceID, role: role, before: before, limit: page.limit + 1) }
        return cursors.page(rows, limit: page.limit, fingerprint: fingerprint) { [$0.member.id.rawValue] }
    }

    public func get(_ p: Principal, _ id: MemberID) async throws -> MemberWithUser {
        try p.require(Scope("members", .read))
        guard let m = try await store.read({ try await $0.identity.member(p.workspaceID, id: id) }) else { throw APIError.notFound("Member") }
        return m
    }

    public func changeRole(_ p: Principal, _ id: MemberID, to role: Role, expectedVersion: Int?, meta: RequestMeta) async throws -> MemberWithUser {
        try p.require(Scope("members", .write))
        let now = clock.now()
        return try await store.write { tx in
            guard var target = try await tx.identity.member(p.workspaceID, id: id) else { throw APIError.notFound("Member") }
            if let expectedVersion, expectedVersion != target.member.version { throw APIError.versionConflict(current: target.member.version) }
            let old = target.member.role
            guard old != role else { return target }
            if (old == .owner || role == .owner) && p.role != .owner {
                throw APIError.forbidden("Only an owner may grant or remove the owner role.")
            }
            if old == .owner, try await tx.identity.countOwners(p.workspaceID) <= 1 {
                throw APIError.conflict("The last owner cannot be demoted; transfer ownership first.")
            }
            target.member.role = role
            target.member.version += 1
            target.member.updatedAt = now
            try await tx.identity.updateMember(target.member)
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: "member.role_changed",
                                                 objectType: "member", objectID: id.rawValue,
                                                 changes: .object(["role": .object(["old": .string(old.rawValue), "new": .string(role.rawValue)])]),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
            return target
        }
    }

    /// Removes a member; anyone may leave, admins may remove others. Their open records go to `reassignTo`.
    public func remove(_ p: Principal, _ id: MemberID, reassignTo: UserID?, meta: RequestMeta) async throws {
        let now = clock.now()
        let reassigners = self.reassigners
        try await store.write { tx in
            guard let target = try await tx.identity.member(p.workspaceID, id: id) else { throw APIError.notFound("Member") }
            let leavingSelf = target.member.userID == p.userID
            if !leavingSelf {
                try p.require(Scope("members", .write))
                if target.member.role == .owner && p.role != .owner {
                    throw APIError.forbidden("Only an owner may remove an owner.")
                }
            }
            var heir: UserID?
            if let reassignTo {
                guard reassignTo != target.member.userID, try await tx.identity.member(p.workspaceID, userID: reassignTo) != nil else {
                    throw APIError.badRequest("reassign_to must be another member's user id.", field: "reassign_to")
                }
                heir = reassignTo
            }
            if target.member.role == .owner, try await tx.identity.countOwners(p.workspaceID) <= 1 {
                throw APIError.conflict("The last owner cannot leave the workspace; transfer ownership first.")
            }
            var moved: [String: JSONValue] = [:]
            if let heir {
                for r in reassigners {
                    let n = try await r.reassign(workspaceID: p.workspaceID, from: target.member.userID, to: heir, actor: p.actor, at: now, in: tx)
                    moved[r.recordType] = .number(String(n))
                }
            }
            try await tx.identity.deleteMember(p.workspaceID, id: id)
            var changes: [String: JSONValue] = ["user_id": .string(target.member.userID.rawValue), "role": .string(target.member.role.rawValue)]
            if let heir {
                changes["reassigned_to"] = .string(heir.rawValue)
                changes["moved"] = .object(moved)
            }
            try await tx.audit.append(AuditEntry(workspaceID: p.workspaceID, actor: p.actor, action: leavingSelf ? "member.left" : "member.removed",
                                                 objectType: "member", objectID: id.rawValue, changes: .object(changes),
                                                 requestID: meta.requestID, ip: meta.ip, createdAt: now))
        }
    }
}

/// Moves a departing member's open records of one type to another member inside the removal transaction.
public protocol OwnershipReassigner: Sendable {
    var recordType: String { get }
    func reassign(workspaceID: WorkspaceID, from: UserID, to: UserID, actor: ActorRef, at: Date, in tx: any StoreSession) async throws -> Int
}
