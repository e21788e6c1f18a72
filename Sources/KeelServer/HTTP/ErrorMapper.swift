import Hummingbird
import KeelCore
import Logging

/// Maps any thrown error to the contract's error vocabulary; internal details only reach the log.
enum ErrorMapper {
    static func apiError(_ error: any Error, requestID: String, logger: Logger) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as HTTPError:
            switch e.status.code {
            case 413: return APIError(.payloadTooLarge, "The request body is too large.")
            case 404: return APIError.notFound("Route")
            case 400: return APIError.badRequest("The request is malformed.")
            case 415: return APIError(.unsupportedMediaType, "Unsupported content type.")
            default:
                if e.status.code < 500 { return APIError(.badRequest, "The request could not be processed.") }
            }
        case is UniqueViolation:
            return APIError.conflict("The change conflicts with an existing record.")
        case is CancellationError:
            return APIError(.unavailable, "The request was cancelled.")
        default:
            break
        }
        logger.error("unhandled error", metadata: ["request_id": "\(requestID)", "error": "\(String(reflecting: error))"])
        return .internalError
    }
}
