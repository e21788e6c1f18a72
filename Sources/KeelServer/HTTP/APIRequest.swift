import Foundation
import HTTPTypes
import Hummingbird
import KeelCore
import NIOCore
import Synchronization

/// One API call as handlers see it: the caller, the buffered body, and helpers that speak the conventions.
struct APIRequest: Sendable {
    let request: Request
    let context: KeelContext
    let principal: Principal?
    let body: ByteBuffer?
    let services: AppServices
    /// The body parsed as JSON once, shared by the Idempotency-Key fingerprint and the handler.
    private let parsed = ParsedBody()

    init(request: Request, context: KeelContext, principal: Principal?, body: ByteBuffer?, services: AppServices) {
        self.request = request
        self.context = context
        self.principal = principal
        self.body = body
        self.services = services
    }

    private final class ParsedBody: Sendable {
        let value = Mutex<Result<JSONValue, APIError>?>(nil)
    }

    /// The body as a JSON value (parsed on first use); nil without a body.
    func bodyJSON() throws -> JSONValue? {
        guard let body, body.readableBytes > 0 else { return nil }
        let result = parsed.value.withLock { cached -> Result<JSONValue, APIError> in
            if let cached { return cached }
            let fresh: Result<JSONValue, APIError>
            if let quick = body.withUnsafeReadableBytes({ RequestJSONReader.parse($0) }) {
                fresh = .success(quick)
            } else {
                do {
                    fresh = .success(try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)))
                } catch {
                    fresh = .failure(APIError.badRequest("The request body is not valid JSON."))
                }
            }
            cached = fresh
            return fresh
        }
        return try result.get()
    }

    var requestID: String { context.requestID }
    var meta: RequestMeta { RequestMeta(requestID: context.requestID, ip: context.clientIP) }

    /// The authenticated caller; routes that reach a handler without one are public routes asking by mistake.
    func caller() throws -> Principal {
        guard let principal else { throw APIError.unauthenticated() }
        return principal
    }

    /// A path id of the right kind; any other shape is simply not found.
    func id<K: IDKind>(_ name: String, as: K.Type = K.self) throws -> TypedID<K> {
        guard let raw = context.parameters.get(name), let id = TypedID<K>(raw) else { throw APIError.notFound() }
        return id
    }

    func query(_ name: String) -> String? {
        request.uri.queryParameters[name[...]].map { String($0) }
    }

    func queryBool(_ name: String) throws -> Bool? {
        guard let v = query(name) else { return nil }
        switch v {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badRequest("\(name) must be true or false.", field: name)
        }
    }

    func queryDate(_ name: String) throws -> Date? {
        guard let v = query(name) else { return nil }
        guard let d = Timestamp.parse(v) else { throw APIError.badRequest("\(name) must be an RFC 3339 date-time or YYYY-MM-DD date.", field: name) }
        return d
    }

    /// Query ids that do not parse are a bad filter (400), not a missing record.
    func queryID<K: IDKind>(_ name: String, as: K.Type = K.self) throws -> TypedID<K>? {
        guard let v = query(name) else { return nil }
        guard let id = TypedID<K>(v) else { throw APIError.badRequest("\(name) is not a valid \(K.prefix.rawValue)_ id.", field: name) }
        return id
    }

    func page() throws -> PageRequest {
        try PageRequest.parse(limit: query("limit"), cursor: query("cursor"), includeTotal: query("include_total"))
    }

    /// `If-Match: "<version>"` as an integer.
    func ifMatch() throws -> Int? {
        guard let raw = request.headers[.ifMatch] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "W/", with: "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard let v = Int(trimmed), v >= 1 else { throw APIError.badRequest("If-Match must be a quoted version number such as \"3\".", field: "If-Match") }
        return v
    }

    func decode<T: StrictDecodable>(_ type: T.Type) throws -> T {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard let body, body.readableBytes > 0 else {
            if contentType.isEmpty || contentType.hasPrefix("application/json") {
                throw APIError.badRequest("A JSON request body is required.")
            }
            throw APIError(.unsupportedMediaType, "Send the body as application/json.")
        }
        guard contentType.hasPrefix("application/json") || contentType.hasPrefix("application/merge-patch+json") else {
            throw APIError(.unsupportedMediaType, "Send the body as application/json.")
        }
        return try StrictJSON.decode(T.self, from: Data(buffer: body))
    }

    /// A JSON object body kept as values (for records, whose keys are checked against their schema).
    func jsonObject() throws -> [String: JSONValue] {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard let body, body.readableBytes > 0 else { throw APIError.badRequest("A JSON request body is required.") }
        guard contentType.hasPrefix("application/json") || contentType.hasPrefix("application/merge-patch+json") else {
            throw APIError(.unsupportedMediaType, "Send the body as application/json.")
        }
        guard let value = try bodyJSON() else { throw APIError.badRequest("A JSON request body is required.") }
        guard case .object(let o) = value else { throw APIError.validation("body", "invalid_type", "The request body must be a JSON object.") }
        if StrictJSON.mayContainNUL(body) { try StrictJSON.rejectNUL(in: value) }
        return o
    }

    /// Every query parameter once (a repeated parameter is a bad request).
    func queryDictionary() throws -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in request.uri.queryParameters {
            let key = String(k)
            if out[key] != nil { throw APIError.badRequest("Query parameter \(key) is repeated.", field: key) }
            out[key] = String(v)
        }
        return out
    }

    func expandNames() -> [String] {
        (query("expand") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Requests without a body may omit it; if one is sent it must still be valid.
    func decodeOptional<T: StrictDecodable>(_ type: T.Type) throws -> T? {
        guard let body, body.readableBytes > 0 else { return nil }
        return try decode(type)
    }

    /// U+0000 cannot be stored in PostgreSQL text and names nothing: in a path parameter (a SKU, say) nothing can match,
    /// so 404; in the query string (keys or values) it is a bad request (400). Checked before the handler runs.
    func rejectNUL() throws {
        // Byte scans: `String.contains(String)` goes through Foundation's search, a visible cost on every request.
        for (_, value) in context.parameters where value.utf8.contains(0) {
            throw APIError.notFound()
        }
        for (key, value) in request.uri.queryParameters where key.utf8.contains(0) || value.utf8.contains(0) {
            let name = String(key).replacingOccurrences(of: "\u{0}", with: "\\u0000")
            throw APIError.badRequest("Query parameter \(name) must not contain NUL (U+0000) characters.", field: name)
        }
    }

    // MARK: Replies

    func fieldsFilter() throws -> Set<String>? {
        guard let raw = query("fields") else { return nil }
        let names = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty, names.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") } }) else {
            throw APIError.badRequest("fields must be a comma-separated list of field names.", field: "fields")
        }
        return Set(names).union(["id"])
    }

    func encode<T: Encodable>(_ value: T) throws -> Data {
        let fields = try fieldsFilter()
        // Record responses are JSONValue trees: write them directly (JSONEncoder over the enum is the slow path).
        var root: JSONValue?
        if let env = value as? Envelope<JSONValue> {
            root = .object(["data": env.data])
        } else if let list = value as? ListEnvelope<JSONValue> {
            var o: [String: JSONValue] = ["data": .array(list.data), "has_more": .bool(list.has_more),
                                          "next_cursor": list.next_cursor.map(JSONValue.string) ?? .null]
            if let total = list.total { o["total"] = .number(String(total)) }
            root = .object(o)
        } else if fields != nil {
            root = try? KeelJSON.decoder.decode(JSONValue.self, from: try KeelJSON.encoder.encode(value))
        }
        guard case .object(var o)? = root else { return try KeelJSON.encoder.encode(value) }
        if let fields {
            func trim(_ v: JSONValue) -> JSONValue {
                guard case .object(let inner) = v else { return v }
                return .object(inner.filter { fields.contains($0.key) })
            }
            if case .array(let items)? = o["data"] {
                o["data"] = .array(items.map(trim))
            } else if let d = o["data"] {
                o["data"] = trim(d)
            }
        }
        return Data(FastJSON.encode(.object(o)))
    }

    func ok<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, version: Int? = nil, location: String? = nil) throws -> Reply {
        var headers = HTTPFields()
        if let version { headers[.eTag] = "\"\(version)\"" }
        if let location { headers[.location] = location }
        return .json(try encode(Envelope(data: value)), status: status, headers: headers)
    }

    func created<T: Encodable>(_ value: T, location: String, version: Int? = 1) throws -> Reply {
        try ok(value, status: .created, version: version, location: location)
    }

    func list<T: Encodable & Sendable>(_ page: Page<T>) throws -> Reply {
        .json(try encode(ListEnvelope(data: page.items, has_more: page.hasMore, next_cursor: page.nextCursor, total: page.total)))
    }
}
