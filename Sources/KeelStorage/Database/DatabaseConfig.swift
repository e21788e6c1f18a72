/// Where the data lives: an SQLite file (the default) or a PostgreSQL server.
public enum DatabaseConfig: Sendable, Equatable {
    case sqlite(path: String, readers: Int)
    case postgres(url: String, poolSize: Int, searchPath: String?)

    /// Parses `sqlite:./keel.sqlite`, `sqlite:///abs/path`, `postgres://...` or `postgresql://...`.
    public static func parse(_ url: String, poolSize: Int = 8, readers: Int = 4) -> DatabaseConfig? {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return .postgres(url: url, poolSize: poolSize, searchPath: nil)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { return nil }
            return .sqlite(path: path, readers: readers)
        }
        return nil
    }

    public var dialect: SQLDialectKind {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// Safe to log: no password.
    public var redacted: String {
        switch self {
        case .sqlite(let path, _): return "sqlite:\(path)"
        case .postgres(let url, _, _):
            guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
            return String(url[..<scheme.upperBound]) + "***" + String(url[at...])
        }
    }
}

public enum SQLDialectKind: String, Sendable { case sqlite, postgres }
