import Foundation

/// Creates a workspace with its first owner inside the caller's transaction.
enum WorkspaceProvisioner {
    static func create(name: String, currency: String = "USD", timezone: String = "UTC", owner: UserID, at now: Date,
                       in tx: any StoreSession) async throws -> (Workspace, Member) {
        let workspace = Workspace(id: .generate(at: now), name: name, defaultCurrency: currency, timezone: timezone,
                                  settings: WorkspaceSettings(), createdAt: now, updatedAt: now, createdBy: owner, version: 1)
        try await tx.identity.insertWorkspace(workspace)
        let member = Member(id: .generate(at: now), workspaceID: workspace.id, userID: owner, role: .owner,
                            createdAt: now, updatedAt: now, version: 1)
        try await tx.identity.insertMember(member)
        try await PipelineService.provisionDefault(workspaceID: workspace.id, currency: currency, createdBy: owner, at: now, in: tx)
        return (workspace, member)
    }
}
