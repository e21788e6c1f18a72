import Foundation
import HTTPTypes
import Hummingbird
import KeelCore
import NIOCore

/// Who may call a route.
enum Access: Sendable {
    /// No credential needed (health, login, invitation acceptance...); limited per client IP.
    case open
    /// A user's session; API keys are refused (403).
    case userSession
    /// Any credential of this workspace.
    case authenticated
    /// Any credential holding the scope.
    case scope(Scope)

    static func read(_ resource: String) -> Access { .scope(Scope(resource, .read)) }
    static func write(_ resource: String) -> Access { .scope(Scope(resource, .write)) }
}

typealias Handler = @Sendable (APIRequest) async throws -> Reply

/// How a request sent with an Idempotency-Key commits.
enum Commit: Sendable {
    /// The handler's writes and the stored answer are one transaction: a crash can never keep the change and lose the answer
    /// (a retry after it replays instead of doing the change twice or failing), and the key costs no extra transactions.
    case withAnswer
    /// The handler waits on something slow that must not hold the transaction (an outbound HTTP call, password hashing), so
    /// its writes commit on their own and the key is claimed before and answered after.
    case separately
}

/// Registers endpoints with the shared pipeline: 401 → 403 → 429 → idempotency → handler, every failure as the error envelope.
final class APIRouter {
    let router: Router<KeelContext>
    private(set) var table = RouteTable()
    private var servicesBox: ServicesBox

    final class ServicesBox: @unchecked Sendable {
        var services: AppServices?
    }

    init(router: Router<KeelContext>) {
        self.router = router
        self.servicesBox = ServicesBox()
    }

    func attach(_ services: AppServices) { servicesBox.services = services }

    func get(_ path: String, _ access: Access, _ handler: @escaping Handler) { on(.get, path, access, handler) }
    func post(_ path: String, _ access: Access, commit: Commit = .withAnswer, _ handler: @escaping Handler) {
        on(.post, path, access, commit: commit, handler)
    }
    func patch(_ path: String, _ access: Access, commit: Commit = .withAnswer, _ handler: @escaping Handler) {
        on(.patch, path, access, commit: commit, handler)
    }
    func put(_ path: String, _ access: Access, _ handler: @escaping Handler) { on(.put, path, access, handler) }
    func delete(_ path: String, _ access: Access, _ handler: @escaping Handler) { on(.delete, path, access, handler) }

    func on(_ method: HTTPRequest.Method, _ path: String, _ access: Access, commit: Commit = .withAnswer, _ handler: @escaping Handler) {
        table.add(method, path)
        let box = servicesBox
        router.on(RouterPath(RouteTable.hummingbirdPath(path)), method: method) { request, context in
            guard let services = box.services else { throw HTTPError(.serviceUnavailable) }
            return await EndpointPipeline.run(request: request, context: context, access: access, commit: commit, services: services,
                                              handler: handler)
        }
    }
}

enum EndpointPipeline {
    static let idempotentMethods: Set<HTTPRequest.Method> = [.post, .patch, .delete]
    static let idempotencyTTL: TimeInterval = 24 * 3600

    static func run(request: Request, context: KeelContext, access: Access, commit: Commit, services: AppServices,
                    handler: @escaping Handler) async -> Response {
        var rateHeaders = HTTPFields()
        var reply: Reply
        do {
            let principal = try authorize(access, context.principal)
            let decision = services.limiter.take(principal.map { "cred:" + $0.credentialKey } ?? "ip:" + context.clientIP)
            if services.limiter.enabled {
                rateHeaders[KeelHeader.rateLimitLimit] = String(decision.limit)
                rateHeaders[KeelHeader.rateLimitRemaining] = String(decision.remaining)
                rateHeaders[KeelHeader.rateLimitReset] = String(decision.resetSeconds)
            }
            if !decision.allowed {
                rateHeaders[.retryAfter] = String(decision.retryAfter)
                throw APIError(.rateLimited, "Too many requests; retry after \(decision.retryAfter) s.")
            }
            var request = request
            var body: ByteBuffer?
            if request.method != .get && request.method != .head {
                let limit = services.config.jsonBodyLimit
                if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                    throw APIError(.payloadTooLarge, "The request body exceeds \(limit) bytes.")
                }
                do {
                    body = try await request.collectBody(upTo: limit)
                } catch let e as HTTPError where e.status == .contentTooLarge {
                    throw APIError(.payloadTooLarge, "The request body exceeds \(limit) bytes.")
                }
            }
            let apiRequest = APIRequest(request: request, context: context, principal: principal, body: body, services: services)
            // A bad `fields=` or a NUL character in the path or query must fail before anything is written.
            try apiRequest.rejectNUL()
            _ = try apiRequest.fieldsFilter()
            let isOpen: Bool = if case .open = access { true } else { false }
            if !isOpen, let principal, idempotentMethods.contains(request.method), let key = request.headers[KeelHeader.idempotencyKey] {
                reply = try await idempotent(key: key, principal: principal, api: apiRequest, commit: commit, services: services,
                                             handler: handler)
            } else {
                reply = await execute(apiRequest, handler)
            }
        } catch {
            reply = .error(ErrorMapper.apiError(error, requestID: context.requestID, logger: context.logger), requestID: context.requestID)
        }
        for field in rateHeaders { reply.headers[field.name] = field.value }
        return reply.response
    }

    static func authorize(_ access: Access, _ principal: Principal?) throws -> Principal? {
        switch access {
        case .open:
            return principal
        case .userSession:
            guard let principal else { throw APIError.unauthenticated() }
            if principal.isAPIKey { throw APIError.forbidden("API keys cannot use this route; sign in as a user.") }
            return principal
        case .authenticated:
            guard let principal else { throw APIError.unauthenticated() }
            return principal
        case .scope(let scope):
            guard let principal else { throw APIError.unauthenticated() }
            try principal.require(scope)
            return principal
        }
    }

    static func execute(_ api: APIRequest, _ handler: Handler) async -> Reply {
        do {
            return try await handler(api)
        } catch {
            return .error(ErrorMapper.apiError(error, requestID: api.requestID, logger: api.context.logger), requestID: api.requestID)
        }
    }

    static func idempotent(key: String, principal: Principal, api: APIRequest, commit: Commit, services: AppServices,
                           handler: @escaping Handler) async throws -> Reply {
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 255 printable characters.", field: "Idempotency-Key")
        }
        let record = claimRecord(key: key, principal: principal, api: api, now: services.clock.now())
        switch commit {
        case .withAnswer:
            do {
                return try await services.database.atomically { session in
                    if let existing = try await session.idempotency.claim(record) { return try replay(existing, api: api, fingerprint: record.fingerprint) }
                    let reply = await execute(api, handler)
                    guard let answer = StoredAnswer(reply) else { throw Abandoned(reply: reply) }
                    try await session.idempotency.complete(scope: record.scope, key: record.key, status: answer.status,
                                                           headers: answer.headers, body: answer.body)
                    return reply
                }
            } catch let abandoned as Abandoned {
                // A server error or a rate limit is not an answer: nothing the request did is kept, and a retry runs afresh.
                return abandoned.reply
            }
        case .separately:
            if let existing = try await services.database.write({ try await $0.idempotency.claim(record) }) {
                return try replay(existing, api: api, fingerprint: record.fingerprint)
            }
            let reply = await execute(api, handler)
            do {
                if let answer = StoredAnswer(reply) {
                    try await services.database.write {
                        try await $0.idempotency.complete(scope: record.scope, key: record.key, status: answer.status,
                                                          headers: answer.headers, body: answer.body)
                    }
                } else {
                    try await services.database.write { try await $0.idempotency.release(scope: record.scope, key: record.key) }
                }
            } catch {
                api.context.logger.error("idempotency bookkeeping failed", metadata: ["request_id": "\(api.requestID)", "error": "\(error)"])
            }
            return reply
        }
    }

    /// The key's claim: scoped to the workspace and credential, with a fingerprint of the request it stands for.
    static func claimRecord(key: String, principal: Principal, api: APIRequest, now: Date) -> IdempotencyRecord {
        IdempotencyRecord(scope: "\(principal.workspaceID.rawValue):\(principal.credentialKey)", key: key, fingerprint: fingerprint(api),
                          state: .inFlight, status: nil, headers: [:], body: nil, createdAt: now, expiresAt: now.addingTimeInterval(idempotencyTTL))
    }

    static let fingerprintVersion = "v2:"

    /// What makes two requests the same request: method, path, query and body, JSON bodies compared by meaning (key order and
    /// whitespace do not make a different request). Version 2 writes the canonical body with `FastJSON`; version 1 (no prefix)
    /// used `JSONEncoder`, which cost a create 2% of its CPU. Claims stored by version 1 are still matched by it (`legacy`)
    /// until they expire.
    static func fingerprint(_ api: APIRequest, legacy: Bool = false) -> String {
        var input = Array("\(api.request.method.rawValue) \(api.request.uri.path)?\(api.request.uri.query ?? "")\n".utf8)
        if let body = api.body {
            if let value = try? api.bodyJSON() {
                if !legacy {
                    FastJSON.write(value, into: &input)
                } else if let canonical = try? KeelJSON.encoder.encode(value) {
                    input.append(contentsOf: canonical)
                } else {
                    input.append(contentsOf: body.readableBytesView)
                }
            } else {
                input.append(contentsOf: body.readableBytesView)
            }
        }
        let digest = SecureToken.hex(SecureToken.hmac(key: "idempotency", message: Data(input)))
        return legacy ? digest : fingerprintVersion + digest
    }

    static func sameRequest(_ existing: IdempotencyRecord, api: APIRequest, fingerprint: String) -> Bool {
        if existing.fingerprint == fingerprint { return true }
        return !existing.fingerprint.hasPrefix(fingerprintVersion) && existing.fingerprint == Self.fingerprint(api, legacy: true)
    }

    static func replay(_ existing: IdempotencyRecord, api: APIRequest, fingerprint: String) throws -> Reply {
        if !sameRequest(existing, api: api, fingerprint: fingerprint) {
            throw APIError(.idempotencyKeyReused, "This Idempotency-Key was used with a different request.")
        }
        guard existing.state == .done, let status = existing.status else {
            throw APIError(.idempotencyKeyInUse, "A request with this Idempotency-Key is still in progress.")
        }
        var headers = HTTPFields()
        for (name, value) in existing.headers {
            if let n = HTTPField.Name(name) { headers[n] = value }
        }
        headers[KeelHeader.idempotentReplayed] = "true"
        return Reply(status: HTTPResponse.Status(code: status), headers: headers, body: existing.body.map { ByteBuffer(bytes: $0) })
    }

    /// What is kept for a key: every answer below 500 except 429 (those are not the request's outcome).
    struct StoredAnswer {
        let status: Int
        let headers: [String: String]
        let body: Data

        init?(_ reply: Reply) {
            let code = reply.status.code
            guard (200..<500).contains(code), code != 429 else { return nil }
            var headers: [String: String] = [:]
            for field in reply.headers where [.contentType, .location, .eTag].contains(field.name) {
                headers[field.name.rawName] = field.value
            }
            self.status = code
            self.headers = headers
            self.body = reply.body.map { Data(buffer: $0) } ?? Data()
        }
    }

    /// Rolls the request's transaction back while still answering with `reply`.
    struct Abandoned: Error {
        let reply: Reply
    }
}
