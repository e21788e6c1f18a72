import Foundation
import HTTPTypes
import Hummingbird
import KeelCore
import KeelStorage

/// Health, the contract document and metrics. Health sits outside `/api/v1`.
struct SystemController {
    func register(on r: APIRouter) {
        r.get("/health/live", .open) { _ in
            .json(Data("{\"status\":\"ok\"}".utf8))
        }
        r.get("/health/ready", .open) { req in
            do {
                try await req.services.database.ping()
                let pending = try await Migrator(database: req.services.database).pending()
                guard pending.isEmpty else {
                    return .json(Data("{\"status\":\"unavailable\",\"reason\":\"migrations pending\"}".utf8), status: .serviceUnavailable)
                }
                return .json(Data("{\"status\":\"ok\"}".utf8))
            } catch {
                req.context.logger.warning("readiness check failed", metadata: ["error": "\(error)"])
                return .json(Data("{\"status\":\"unavailable\",\"reason\":\"database unreachable\"}".utf8), status: .serviceUnavailable)
            }
        }
        r.get("/api/v1/openapi.json", .open) { req in
            .json(req.services.openAPI.json)
        }
    }

    /// `/metrics` is an operator endpoint, not part of the contract, so it bypasses the route table.
    static func registerMetrics(on router: Router<KeelContext>, metrics: HTTPMetrics) {
        router.get("/metrics") { _, _ in
            var r = Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"])
            r.body = ResponseBody(byteBuffer: ByteBuffer(string: metrics.export()))
            return r
        }
    }
}
