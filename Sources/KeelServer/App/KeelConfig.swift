import KeelCore
import KeelStorage
import Logging

/// Server settings. Precedence: flags > `KEEL_*` environment > defaults.
public struct KeelConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var database: DatabaseConfig = .sqlite(path: "./keel.sqlite", readers: 4)
    public var jwtSecret: String?
    public var logLevel: Logger.Level = .info
    public var rateLimitRPS = 50
    public var rateLimitBurst = 100
    public var loginAttemptsPerMinute = 10
    public var webhooksAllowPrivate = false
    public var smtpURL: String?
    public var workers = true
    public var bootstrap = true
    public var openSignup = false
    public var adminEmail: String?
    public var adminPassword: String?
    public var bcryptCost = 11
    public var jsonBodyLimit = 1 << 20
    public var uploadBodyLimit = 50 << 20
    public var publicBaseURL: String?
    public var credentialCacheSeconds = 5.0
    /// A receiver has this long to answer 2xx.
    public var webhookTimeoutMillis = 10_000
    /// Multiplies the retry schedule (and the 3-day disable window): 1 in production, small in tests.
    public var webhookRetryScale = 1.0
    /// How often idle workers look for new outbox rows, due deliveries and pending runs.
    public var workerPollMillis = 500
    /// How often the scheduler looks for overdue tasks, stale deals and due schedules.
    public var schedulerIntervalSeconds = 30
    /// How often retention runs (soft-deleted rows, old events, delivery logs, runs, idempotency keys, deleted workspaces).
    public var purgeIntervalSeconds = 3600

    public init() {}

    public var baseURL: String { publicBaseURL ?? "http://\(host):\(port)" }

    /// A setting that cannot be used; its message names it in one line.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads `KEEL_*` variables over the defaults.
    public static func fromEnvironment(_ env: [String: String]) throws -> KeelConfig {
        var c = KeelConfig()
        try c.apply(env)
        return c
    }

    public mutating func apply(_ env: [String: String]) throws {
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let raw = env[key] else { return nil }
            guard let v = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
                throw Invalid(description: "\(key)=\(raw) is not valid: expected an integer from \(range.lowerBound) to \(range.upperBound).")
            }
            return v
        }
        func bool(_ key: String) throws -> Bool? {
            guard let raw = env[key] else { return nil }
            switch raw.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw Invalid(description: "\(key)=\(raw) is not valid: expected true or false.")
            }
        }
        if let v = env["KEEL_HOST"] {
            guard !v.isEmpty else { throw Invalid(description: "KEEL_HOST is empty.") }
            host = v
        }
        if let v = try int("KEEL_PORT", 0...65535) { port = v }
        let pool = try int("KEEL_DB_POOL_SIZE", 1...512) ?? 8
        if let v = env["KEEL_DATABASE_URL"] {
            guard let parsed = DatabaseConfig.parse(v, poolSize: pool) else {
                throw Invalid(description: "KEEL_DATABASE_URL is not valid: use sqlite:./keel.sqlite or postgres://user:pass@host:5432/db.")
            }
            database = parsed
        } else if case .sqlite(let path, let readers) = database {
            database = .sqlite(path: path, readers: readers)
        }
        if let v = env["KEEL_JWT_SECRET"] {
            guard v.utf8.count >= 32 else { throw Invalid(description: "KEEL_JWT_SECRET is too short: use at least 32 characters.") }
            jwtSecret = v
        }
        if let v = env["KEEL_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: v.lowercased()) else {
                throw Invalid(description: "KEEL_LOG_LEVEL=\(v) is not valid: use trace, debug, info, notice, warning, error or critical.")
            }
            logLevel = level
        }
        if let v = try int("KEEL_RATE_LIMIT_RPS", 0...1_000_000) { rateLimitRPS = v }
        if let v = try int("KEEL_RATE_LIMIT_BURST", 0...1_000_000) { rateLimitBurst = v }
        if let v = try int("KEEL_LOGIN_ATTEMPTS_PER_MINUTE", 0...100_000) { loginAttemptsPerMinute = v }
        if let v = try bool("KEEL_WEBHOOKS_ALLOW_PRIVATE") { webhooksAllowPrivate = v }
        if let v = env["KEEL_SMTP_URL"] {
            guard v.hasPrefix("smtp://") || v.hasPrefix("smtps://") else {
                throw Invalid(description: "KEEL_SMTP_URL is not valid: expected smtp://host:port.")
            }
            smtpURL = v
        }
        if let v = env["KEEL_WORKERS"] {
            switch v.lowercased() {
            case "on", "true", "1": workers = true
            case "off", "false", "0": workers = false
            default: throw Invalid(description: "KEEL_WORKERS=\(v) is not valid: use on or off.")
            }
        }
        if let v = try bool("KEEL_BOOTSTRAP") { bootstrap = v }
        if let v = try bool("KEEL_OPEN_SIGNUP") { openSignup = v }
        if let v = env["KEEL_ADMIN_EMAIL"] {
            guard Normalize.email(v) != nil else { throw Invalid(description: "KEEL_ADMIN_EMAIL is not a valid e-mail address.") }
            adminEmail = v
        }
        if let v = env["KEEL_ADMIN_PASSWORD"] {
            guard v.count >= 8, v.utf8.count <= 72 else { throw Invalid(description: "KEEL_ADMIN_PASSWORD must be 8 to 72 bytes long.") }
            adminPassword = v
        }
        if let v = try int("KEEL_BCRYPT_COST", 4...16) { bcryptCost = v }
        if let v = try int("KEEL_JSON_BODY_LIMIT", 1024...(1 << 30)) { jsonBodyLimit = v }
        if let v = try int("KEEL_UPLOAD_BODY_LIMIT", 1024...(1 << 34)) { uploadBodyLimit = v }
        if let v = try int("KEEL_WEBHOOK_TIMEOUT_MS", 100...60_000) { webhookTimeoutMillis = v }
        if let raw = env["KEEL_WEBHOOK_RETRY_SCALE"] {
            guard let v = Double(raw), v > 0, v <= 1 else {
                throw Invalid(description: "KEEL_WEBHOOK_RETRY_SCALE=\(raw) is not valid: expected a number above 0 and at most 1.")
            }
            webhookRetryScale = v
        }
        if let v = try int("KEEL_WORKER_POLL_MS", 10...60_000) { workerPollMillis = v }
        if let v = try int("KEEL_SCHEDULER_INTERVAL", 1...86_400) { schedulerIntervalSeconds = v }
        if let v = try int("KEEL_PURGE_INTERVAL", 1...604_800) { purgeIntervalSeconds = v }
        if let v = env["KEEL_PUBLIC_URL"] {
            guard v.hasPrefix("http://") || v.hasPrefix("https://") else { throw Invalid(description: "KEEL_PUBLIC_URL must start with http:// or https://.") }
            publicBaseURL = v.hasSuffix("/") ? String(v.dropLast()) : v
        }
    }
}
