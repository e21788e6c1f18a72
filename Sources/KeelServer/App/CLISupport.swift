import Foundation
import KeelCore
import KeelStorage
import Logging

/// Work behind the CLI commands, kept here so the executable target holds parsing only.
public enum KeelCLI {
    public static let version = "0.1.0"

    public static func migrate(_ config: KeelConfig) async throws -> [Int] {
        let logger = KeelServer.makeLogger(config)
        let database = try await KeelDatabase.open(config.database, logger: logger)
        do {
            let applied = try await Migrator(database: database).migrate(logger: logger)
            await database.shutdown()
            return applied
        } catch {
            await database.shutdown()
            throw error
        }
    }

    public struct BootstrapOutput: Sendable, Encodable {
        public let workspace_id: String
        public let workspace_name: String
        public let user_id: String
        public let email: String
        public let password: String
        public let api_key: String
        public let base_url: String
    }

    /// Creates an owner, a workspace and an all-scopes key, whether or not the database already has users.
    public static func bootstrap(_ config: KeelConfig, email: String, workspace: String, password: String?, name: String?) async throws -> BootstrapOutput {
        var config = config
        config.bootstrap = false
        let logger = KeelServer.makeLogger(config)
        let database = try await KeelServer.prepareDatabase(config, logger: logger, announce: { _ in })
        do {
            let secret = try await KeelServer.signingSecret(config, database: database)
            let auth = try await KeelServer.makeAuthService(config, database: database, secret: secret)
            guard let r = try await auth.bootstrap(email: email, password: password, name: name, workspaceName: workspace, onlyIfEmpty: false) else {
                throw KeelConfig.Invalid(description: "bootstrap did not create anything.")
            }
            await database.shutdown()
            return BootstrapOutput(workspace_id: r.workspace.id.rawValue, workspace_name: r.workspace.name, user_id: r.user.id.rawValue,
                                   email: r.user.email, password: r.password, api_key: r.apiKeySecret, base_url: config.baseURL + "/api/v1")
        } catch {
            await database.shutdown()
            throw error
        }
    }

    /// Bulk demo data; bootstraps an owner first when the database is empty.
    public static func seedDemo(_ config: KeelConfig, workspace: String?, companies: Int, contacts: Int, notes: Int, leads: Int, deals: Int,
                                tasks: Int, activities: Int, seed: UInt64, progress: @escaping @Sendable (String) -> Void) async throws -> String {
        let sizes = DemoSizes(companies: companies, contacts: contacts, notes: notes, leads: leads, deals: deals, tasks: tasks, activities: activities)
        var config = config
        config.bootstrap = true
        let logger = KeelServer.makeLogger(config)
        let database = try await KeelServer.prepareDatabase(config, logger: logger, announce: { progress($0) })
        do {
            var workspaceID: WorkspaceID?
            if let workspace {
                guard let id = WorkspaceID(workspace) else { throw KeelConfig.Invalid(description: "--workspace must be a wsp_ id.") }
                workspaceID = id
            }
            let started = Date()
            try await database.enterBulkLoadMode()
            // activity_links keeps its index: the seeder's last step sets each contact's and deal's last_activity_at with
            // a lookup per record into it, which without the index is a scan per record (hours at a million).
            let tables = ["companies", "contacts", "notes", "record_tags", "leads", "deals", "deal_contacts", "deal_stage_history", "line_items",
                          "tasks", "activities"]
            var summary = try await database.withIndexesDeferred(on: tables) {
                try await DemoSeeder(store: database).run(workspaceID: workspaceID, sizes: sizes, seed: seed, progress: progress)
            }
            try await database.refreshPlannerStatistics()
            await database.shutdown()
            // The load is done when the rows are indexed and on disk, not when the last row is inserted.
            summary.seconds = DemoSummary.rounded(Date().timeIntervalSince(started))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: try encoder.encode(summary), as: UTF8.self)
        } catch {
            await database.shutdown()
            throw error
        }
    }

    /// A domain error as one line for the terminal.
    public static func describe(_ error: any Error) -> String {
        if let e = error as? APIError {
            let details = e.details.map { "\($0.field ?? ""): \($0.message)" }.joined(separator: "; ")
            return details.isEmpty ? e.message : "\(e.message) \(details)"
        }
        if let e = error as? KeelConfig.Invalid { return e.description }
        return String(describing: error)
    }
}
