/// One field-level problem inside an error response.
public struct ErrorDetail: Sendable, Codable, Equatable {
    public var field: String?
    public var code: String
    public var message: String
    public var existingID: String?
    public var scope: String?

    public init(field: String? = nil, code: String, message: String, existingID: String? = nil, scope: String? = nil) {
        self.field = field
        self.code = code
        self.message = message
        self.existingID = existingID
        self.scope = scope
    }

    enum CodingKeys: String, CodingKey {
        case field, code, message
        case existingID = "existing_id"
        case scope
    }
}

/// The one error vocabulary of the API. Every failure a client can see is one of these.
public struct APIError: Error, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case badRequest = "bad_request"
        case unauthenticated
        case forbidden
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case conflict
        case versionConflict = "version_conflict"
        case duplicate
        case idempotencyKeyInUse = "idempotency_key_in_use"
        case payloadTooLarge = "payload_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case validationFailed = "validation_failed"
        case idempotencyKeyReused = "idempotency_key_reused"
        case invalidTransition = "invalid_transition"
        case rateLimited = "rate_limited"
        case internalError = "internal"
        case unavailable

        public var status: Int {
            switch self {
            case .badRequest: 400
            case .unauthenticated: 401
            case .forbidden: 403
            case .notFound: 404
            case .methodNotAllowed: 405
            case .conflict, .versionConflict, .duplicate, .idempotencyKeyInUse: 409
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .validationFailed, .idempotencyKeyReused, .invalidTransition: 422
            case .rateLimited: 429
            case .internalError: 500
            case .unavailable: 503
            }
        }
    }

    public var kind: Kind
    public var message: String
    public var details: [ErrorDetail]

    public init(_ kind: Kind, _ message: String, details: [ErrorDetail] = []) {
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var status: Int { kind.status }

    public static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, message, details: field.map { [ErrorDetail(field: $0, code: "invalid", message: message)] } ?? [])
    }
    public static func unauthenticated(_ message: String = "Authentication required.") -> APIError {
        APIError(.unauthenticated, message)
    }
    public static func forbidden(_ message: String) -> APIError { APIError(.forbidden, message) }
    public static func missingScope(_ scope: Scope) -> APIError {
        APIError(.forbidden, "This credential lacks the scope \(scope.rawValue).",
                 details: [ErrorDetail(code: "missing_scope", message: "Scope \(scope.rawValue) is required.", scope: scope.rawValue)])
    }
    public static func notFound(_ what: String = "Record") -> APIError { APIError(.notFound, "\(what) not found.") }
    public static func validation(_ field: String, _ code: String, _ message: String) -> APIError {
        APIError(.validationFailed, "The request is invalid: \(message)", details: [ErrorDetail(field: field, code: code, message: message)])
    }
    public static func validation(_ details: [ErrorDetail]) -> APIError {
        APIError(.validationFailed, "The request is invalid.", details: details)
    }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, message) }
    public static func duplicate(_ field: String, existingID: String?, message: String) -> APIError {
        APIError(.duplicate, message, details: [ErrorDetail(field: field, code: "duplicate", message: message, existingID: existingID)])
    }
    public static func versionConflict(current: Int) -> APIError {
        APIError(.versionConflict, "The record has changed (current version \(current)); reload and retry.",
                 details: [ErrorDetail(field: "version", code: "stale", message: "Current version is \(current).")])
    }
    public static let internalError = APIError(.internalError, "An internal error occurred.")
}

/// Collects field problems so a request reports all of them at once.
public struct Validator: Sendable {
    public private(set) var details: [ErrorDetail] = []
    public init() {}

    public mutating func add(_ field: String, _ code: String, _ message: String) {
        details.append(ErrorDetail(field: field, code: code, message: message))
    }

    public mutating func require(_ condition: Bool, _ field: String, _ code: String, _ message: String) {
        if !condition { add(field, code, message) }
    }

    public func check() throws {
        if !details.isEmpty { throw APIError.validation(details) }
    }
}
