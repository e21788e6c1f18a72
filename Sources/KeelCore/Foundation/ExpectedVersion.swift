/// The version an update expects: the `If-Match` header, else a `version` in the body (409 `version_conflict` on mismatch).
public enum ExpectedVersion {
    public static func from(ifMatch: Int?, body: [String: JSONValue]) throws -> Int? {
        guard let v = body["version"] else { return ifMatch }
        guard case .number(let n) = v, let version = Int(n) else { throw APIError.validation("version", "invalid_type", "version must be an integer.") }
        return ifMatch ?? version
    }
}
