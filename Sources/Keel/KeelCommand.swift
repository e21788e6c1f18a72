import ArgumentParser
import Foundation
import Hummingbird
import KeelServer

@main
struct KeelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel",
        abstract: "Keel: a self-hosted, multi-tenant CRM and sales-pipeline API server.",
        version: KeelCLI.version,
        subcommands: [Serve.self, Migrate.self, Bootstrap.self, SeedDemo.self, OpenAPI.self, Version.self],
        defaultSubcommand: Serve.self
    )

    static func main() async {
        KeelCLI.bootstrapLogging()
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Flags shared by commands that touch the database; each overrides its `KEEL_*` variable.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "sqlite:./keel.sqlite (default) or postgres://user:pass@host:5432/db  [KEEL_DATABASE_URL]")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical  [KEEL_LOG_LEVEL]")
    var logLevel: String?

    func config(extra: [String: String] = [:]) throws -> KeelConfig {
        var env = ProcessInfo.processInfo.environment
        if let databaseURL { env["KEEL_DATABASE_URL"] = databaseURL }
        if let logLevel { env["KEEL_LOG_LEVEL"] = logLevel }
        for (k, v) in extra { env[k] = v }
        do {
            return try KeelConfig.fromEnvironment(env)
        } catch {
            fail(KeelCLI.describe(error))
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("keel: \(message)\n".utf8))
    exit(1)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the API server (migrates the database; on an empty one creates the first owner and prints a one-time banner).")

    @OptionGroup var db: DatabaseOptions
    @Option(help: "Listen address  [KEEL_HOST, default 127.0.0.1]") var host: String?
    @Option(help: "Listen port  [KEEL_PORT, default 8080]") var port: Int?
    @Option(help: "Background workers on|off  [KEEL_WORKERS, default on]") var workers: String?

    func run() async throws {
        var extra: [String: String] = [:]
        if let host { extra["KEEL_HOST"] = host }
        if let port { extra["KEEL_PORT"] = String(port) }
        if let workers { extra["KEEL_WORKERS"] = workers }
        let config = try db.config(extra: extra)
        let app: any ApplicationProtocol
        do {
            app = try await KeelServer.buildApplication(config)
        } catch {
            fail(KeelCLI.describe(error))
        }
        do {
            try await app.runService()
        } catch {
            fail("the server stopped: \(KeelCLI.describe(error)) (is port \(config.port) on \(config.host) already in use?)")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        do {
            let applied = try await KeelCLI.migrate(try db.config())
            print(applied.isEmpty ? "Database is up to date." : "Applied migrations: \(applied.map(String.init).joined(separator: ", "))")
        } catch {
            fail(KeelCLI.describe(error))
        }
    }
}

struct Bootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an owner, a workspace and an all-scopes API key (for scripts); prints the credentials once.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Owner e-mail") var email: String
    @Option(help: "Workspace name") var workspace: String
    @Option(help: "Owner password (generated when omitted)") var password: String?
    @Option(help: "Owner display name") var name: String?
    @Flag(help: "Print the credentials as JSON") var json = false

    func run() async throws {
        do {
            let out = try await KeelCLI.bootstrap(try db.config(), email: email, workspace: workspace, password: password, name: name)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(out), as: UTF8.self))
            } else {
                print("""
                Workspace: \(out.workspace_name) (\(out.workspace_id))
                E-mail:    \(out.email)
                Password:  \(out.password)
                API key:   \(out.api_key)
                Base URL:  \(out.base_url)
                """)
            }
        } catch {
            fail(KeelCLI.describe(error))
        }
    }
}

struct SeedDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-demo",
        abstract: "Fill a workspace with realistic, reproducible demo data.",
        discussion: "Demo data is bulk-loaded without field history, events or audit entries. On an empty database an owner is bootstrapped first.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Workspace id (default: the first workspace)") var workspace: String?
    @Option(help: "Number of companies") var companies = 200
    @Option(help: "Number of contacts") var contacts = 2000
    @Option(help: "Number of notes") var notes = 500
    @Option(help: "Number of leads") var leads = 300
    @Option(help: "Number of deals (spread over 3 pipelines, with stage history and some line items)") var deals = 400
    @Option(help: "Number of tasks (some overdue)") var tasks = 600
    @Option(help: "Number of activities over the past 18 months") var activities = 3000
    @Option(help: "Random seed (same seed, same data)") var seed: UInt64 = 42

    func run() async throws {
        guard [companies, contacts, notes, leads, deals, tasks, activities].allSatisfy({ $0 >= 0 }) else { fail("sizes must not be negative.") }
        do {
            let summary = try await KeelCLI.seedDemo(try db.config(), workspace: workspace, companies: companies, contacts: contacts, notes: notes,
                                                     leads: leads, deals: deals, tasks: tasks, activities: activities, seed: seed, progress: { FileHandle.standardError.write(Data("\($0)\n".utf8)) })
            print(summary)
        } catch {
            fail(KeelCLI.describe(error))
        }
    }
}

struct OpenAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the OpenAPI 3.1 document (YAML, or JSON with --json).")
    @Flag(help: "Print JSON instead of YAML") var json = false

    func run() async throws {
        do {
            print(json ? try KeelServer.openAPIJSON() : try KeelServer.openAPIYAML())
        } catch {
            fail(KeelCLI.describe(error))
        }
    }
}

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() async throws { print("keel \(KeelCLI.version)") }
}
