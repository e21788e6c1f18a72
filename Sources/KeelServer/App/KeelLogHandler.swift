import Foundation
import Logging

/// The server's log lines, in `StreamLogHandler`'s format on standard error. Metadata is rendered when a line is written,
/// not each time a key is set: every request sets two or three keys (Hummingbird's request id, ours, the workspace) and at
/// the usual `warning` level writes no line at all, while `StreamLogHandler` rendered all its keys again on each set
/// (about 3 % of a `GET /contacts/{id}`).
public struct KeelLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        FileHandle.standardError.write(Data(line(event, timestamp: Self.timestamp()).utf8))
    }

    /// One line as `StreamLogHandler` writes it: `<time> <level> <label>: <key=value ...> [<source>] <message>`.
    func line(_ event: LogEvent, timestamp: String) -> String {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let pretty = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return "\(timestamp) \(event.level)\(label.isEmpty ? "" : " ")\(label):\(pretty) [\(event.source)] \(event.message)\n"
    }

    static func timestamp() -> String {
        var now = time(nil)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return "<unknown>" }
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension KeelCLI {
    /// Installs `KeelLogHandler` for the process; the `keel` command calls it once, before anything logs.
    public static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in KeelLogHandler(label: label) }
    }
}
