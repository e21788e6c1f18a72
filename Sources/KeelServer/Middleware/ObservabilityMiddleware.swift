import Foundation
import HTTPTypes
import Hummingbird
import KeelCore
import Logging

/// Outermost layer: request id, one structured log line, metrics, and the error envelope for anything that escapes.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = KeelContext
    let metrics: HTTPMetrics
    let routes: @Sendable () -> RouteTable

    static func sanitizedRequestID(_ raw: String?) -> String? {
        guard let raw, (1...128).contains(raw.utf8.count),
              raw.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 })
        else { return nil }
        return raw
    }

    func handle(_ request: Request, context: KeelContext, next: (Request, KeelContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        let requestID = Self.sanitizedRequestID(request.headers[KeelHeader.requestID]) ?? "req_" + ULID.make()
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, request: request, context: context)
        }
        response.headers[KeelHeader.requestID] = requestID
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        let level: Logger.Level = response.status.code >= 500 ? .error : .info
        guard context.logger.logLevel <= level else { return response }
        let millis = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var meta: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(response.status.code),
            "duration_ms": .string(String(format: "%.2f", millis)),
        ]
        if let ws = context.scratch.workspaceID { meta["workspace_id"] = .string(ws) }
        context.logger.log(level: level, "request", metadata: meta)
        return response
    }

    func errorResponse(_ error: any Error, request: Request, context: KeelContext) -> Response {
        if let http = error as? HTTPError, http.status == .notFound {
            let allowed = routes().methods(matching: request.uri.path)
            if !allowed.isEmpty {
                var reply = Reply.error(APIError(.methodNotAllowed, "\(request.method.rawValue) is not allowed here."), requestID: context.requestID)
                reply.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return reply.response
            }
            return Reply.error(APIError(.notFound, "No such route."), requestID: context.requestID).response
        }
        return Reply.error(ErrorMapper.apiError(error, requestID: context.requestID, logger: context.logger), requestID: context.requestID).response
    }
}
