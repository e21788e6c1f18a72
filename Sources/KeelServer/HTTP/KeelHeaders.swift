import HTTPTypes

/// Header names Keel sets or reads. They are valid tokens, so the fallback in `name` is never taken; it spares a force unwrap
/// (a test checks every name).
enum KeelHeader {
    static let requestID = name("X-Request-Id")
    static let rateLimitLimit = name("RateLimit-Limit")
    static let rateLimitRemaining = name("RateLimit-Remaining")
    static let rateLimitReset = name("RateLimit-Reset")
    static let idempotencyKey = name("Idempotency-Key")
    static let idempotentReplayed = name("Idempotent-Replayed")

    static let all = [requestID, rateLimitLimit, rateLimitRemaining, rateLimitReset, idempotencyKey, idempotentReplayed]

    private static func name(_ text: String) -> HTTPField.Name { HTTPField.Name(text) ?? .via }
}
