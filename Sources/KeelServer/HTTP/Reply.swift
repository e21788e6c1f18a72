import Foundation
import HTTPTypes
import Hummingbird
import KeelCore
import NIOCore

/// A fully buffered response, so idempotency can store and replay it byte for byte.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer?

    init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static let noContent = Reply(status: .noContent)

    static func json(_ data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Reply {
        var h = headers
        h[.contentType] = "application/json; charset=utf-8"
        return Reply(status: status, headers: h, body: ByteBuffer(bytes: data))
    }

    static func error(_ e: APIError, requestID: String) -> Reply {
        struct Body: Encodable {
            struct Inner: Encodable {
                let code: String
                let message: String
                let details: [ErrorDetail]
                let request_id: String
            }
            let error: Inner
        }
        let body = Body(error: .init(code: e.kind.rawValue, message: e.message, details: e.details, request_id: requestID))
        let data = (try? KeelJSON.encoder.encode(body)) ?? Data("{\"error\":{\"code\":\"internal\"}}".utf8)
        return .json(data, status: HTTPResponse.Status(code: e.status))
    }

    var response: Response {
        var r = Response(status: status, headers: headers)
        if let body { r.body = ResponseBody(byteBuffer: body) }
        return r
    }
}

/// `{"data": ...}` and `{"data": [...], "has_more", "next_cursor"[, "total"]}`.
struct Envelope<T: Encodable>: Encodable {
    let data: T
}

struct ListEnvelope<T: Encodable>: Encodable {
    let data: [T]
    let has_more: Bool
    let next_cursor: String?
    let total: Int?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encode(has_more, forKey: .has_more)
        try c.encode(next_cursor, forKey: .next_cursor)
        if let total { try c.encode(total, forKey: .total) }
    }

    enum CodingKeys: String, CodingKey { case data, has_more, next_cursor, total }
}
