import HTTPTypes

/// Every registered (method, path) pair, in OpenAPI path syntax; used for 405 answers and the contract test.
struct RouteTable: Sendable {
    struct Entry: Sendable, Hashable {
        let method: HTTPRequest.Method
        let path: String
    }

    private(set) var entries: [Entry] = []

    mutating func add(_ method: HTTPRequest.Method, _ path: String) {
        entries.append(Entry(method: method, path: path))
    }

    /// Methods registered for a concrete path such as `/api/v1/members/mem_01...`; literal segments win over `{id}`.
    func methods(matching concrete: String) -> [HTTPRequest.Method] {
        let parts = concrete.split(separator: "/", omittingEmptySubsequences: true)
        var best = -1
        var out: [HTTPRequest.Method] = []
        for entry in entries {
            let template = entry.path.split(separator: "/", omittingEmptySubsequences: true)
            guard template.count == parts.count, zip(template, parts).allSatisfy({ t, p in t.hasPrefix("{") || t == p }) else { continue }
            let literals = template.filter { !$0.hasPrefix("{") }.count
            if literals > best {
                best = literals
                out = [entry.method]
            } else if literals == best {
                out.append(entry.method)
            }
        }
        return out
    }

    static func hummingbirdPath(_ openAPIPath: String) -> String {
        openAPIPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }
}
