import Foundation
import KeelCore
import Yams

/// The bundled contract (`openapi.yaml`), parsed once and served as JSON.
struct OpenAPIDocument: Sendable {
    let yaml: String
    let json: Data

    static func load() throws -> OpenAPIDocument {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw KeelConfig.Invalid(description: "openapi.yaml is missing from the bundle.")
        }
        let yaml = try String(contentsOf: url, encoding: .utf8)
        let object = try Yams.load(yaml: yaml) ?? [:]
        let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return OpenAPIDocument(yaml: yaml, json: json)
    }

    /// Every `(METHOD, path)` the document declares.
    func operations() -> Set<String> {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let paths = root["paths"] as? [String: Any] else { return [] }
        var out = Set<String>()
        let methods = ["get", "post", "put", "patch", "delete"]
        for (path, item) in paths {
            guard let item = item as? [String: Any] else { continue }
            for m in methods where item[m] != nil { out.insert("\(m.uppercased()) \(path)") }
        }
        return out
    }
}
