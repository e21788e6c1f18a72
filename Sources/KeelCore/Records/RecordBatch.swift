import Foundation

public struct BatchOperation: Sendable {
    public enum Kind: String, Sendable { case create, update, delete }
    public var kind: Kind
    public var id: String?
    public var data: [String: JSONValue]?
    public init(kind: Kind, id: String?, data: [String: JSONValue]?) {
        self.kind = kind
        self.id = id
        self.data = data
    }
}

public struct BatchResult: Sendable {
    public var index: Int
    public var status: Int
    public var record: Record?
    public var error: APIError?
}

extension RecordService {
    public static let maxBatch = 100

    /// Runs each operation in its own transaction: one failure does not roll back the others.
    public func batch(_ p: Principal, operations: [BatchOperation], meta: RequestMeta) async throws -> [BatchResult] {
        try p.require(writeScope)
        guard !operations.isEmpty, operations.count <= RecordService.maxBatch else {
            throw APIError.validation("operations", "out_of_range", "A batch holds 1 to \(RecordService.maxBatch) operations.")
        }
        var results: [BatchResult] = []
        for (index, op) in operations.enumerated() {
            do {
                switch op.kind {
                case .create:
                    guard let data = op.data else { throw APIError.validation("operations[\(index)].data", "required", "create needs data.") }
                    results.append(BatchResult(index: index, status: 201, record: try await create(p, body: data, meta: meta)))
                case .update:
                    guard let id = op.id else { throw APIError.validation("operations[\(index)].id", "required", "update needs an id.") }
                    guard let data = op.data else { throw APIError.validation("operations[\(index)].data", "required", "update needs data.") }
                    results.append(BatchResult(index: index, status: 200, record: try await update(p, id: id, body: data, ifMatch: nil, meta: meta)))
                case .delete:
                    guard let id = op.id else { throw APIError.validation("operations[\(index)].id", "required", "delete needs an id.") }
                    try await delete(p, id: id, ifMatch: nil, meta: meta)
                    results.append(BatchResult(index: index, status: 204))
                }
            } catch let e as APIError {
                results.append(BatchResult(index: index, status: e.status, error: e))
            } catch is UniqueViolation {
                let e = APIError.conflict("The change conflicts with an existing record.")
                results.append(BatchResult(index: index, status: e.status, error: e))
            }
        }
        return results
    }
}
