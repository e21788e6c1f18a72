import Hummingbird
import KeelCore

/// Refuses a declared oversize body before authentication (the contract checks 413 first).
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = KeelContext
    let limit: Int

    func handle(_ request: Request, context: KeelContext, next: (Request, KeelContext) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.payloadTooLarge, "The request body exceeds \(limit) bytes.")
        }
        return try await next(request, context)
    }
}
