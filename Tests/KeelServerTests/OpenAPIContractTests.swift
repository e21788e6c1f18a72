import Foundation
import KeelServer
import XCTest

/// `openapi.yaml` is the contract: it must be served, be OpenAPI 3.1, and describe exactly the routes the server registers.
final class OpenAPIContractTests: XCTestCase {
    static let httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
    static let supportedMethods: Set<String> = ["get", "put", "post", "delete", "patch"]

    // (a) The document is served as JSON, is OpenAPI 3.1.x and has paths.
    func testDocumentIsServedAsOpenAPI31() async throws {
        try await withApp { api, _ in
            let r = try await api.get("/api/v1/openapi.json")
            XCTAssertEqual(r.code, 200, r.text)
            XCTAssertTrue(r.header("Content-Type")?.hasPrefix("application/json") ?? false, "Content-Type: \(r.header("Content-Type") ?? "none")")
            XCTAssertNotNil(r.header("X-Request-Id"))
            let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.text.utf8)) as? [String: Any], "the body is not a JSON object")
            let version = doc["openapi"] as? String ?? ""
            XCTAssertTrue(version.hasPrefix("3.1."), "openapi is \"\(version)\", expected 3.1.x")
            let paths = doc["paths"] as? [String: Any] ?? [:]
            XCTAssertFalse(paths.isEmpty, "the document has no paths")
            let info = doc["info"] as? [String: Any] ?? [:]
            XCTAssertEqual(info["title"] as? String, "Keel")
            XCTAssertNotNil(info["version"] as? String)
        }
    }

    // (b) The router's operations and the document's operations are the same set.
    func testDocumentedOperationsMatchRegisteredRoutes() async throws {
        let (dbConfig, cleanup) = try await TestDatabase.make()
        var config = KeelConfig()
        config.database = dbConfig
        config.bcryptCost = 4
        config.bootstrap = false
        config.workers = false
        config.logLevel = .warning
        config.jwtSecret = String(repeating: "c", count: 48)
        let registered: Set<String>
        do {
            registered = try await KeelServer.registeredOperations(config)
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
        let documented = try KeelServer.documentedOperations()

        XCTAssertFalse(registered.isEmpty, "the router registered no operations")
        XCTAssertFalse(documented.isEmpty, "the document declares no operations")
        XCTAssertFalse(documented.contains { $0.hasSuffix(" /metrics") }, "/metrics is an operator endpoint and must stay out of the contract")

        let undocumented = registered.subtracting(documented).sorted()
        let unregistered = documented.subtracting(registered).sorted()
        var message = ""
        if !undocumented.isEmpty {
            message += "\nRegistered by the router but missing from openapi.yaml (\(undocumented.count)):\n"
                + undocumented.map { "  - \($0)" }.joined(separator: "\n")
        }
        if !unregistered.isEmpty {
            message += "\nDeclared in openapi.yaml but not registered by the router (\(unregistered.count)):\n"
                + unregistered.map { "  - \($0)" }.joined(separator: "\n")
        }
        XCTAssertTrue(message.isEmpty, "The contract and the router disagree:" + message)
    }

    // (c) Every operation has an operationId and a 2xx answer, and every $ref resolves.
    func testDocumentIsWellFormed() throws {
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try KeelServer.openAPIJSON().utf8)) as? [String: Any])
        let paths = try XCTUnwrap(doc["paths"] as? [String: Any], "the document has no paths object")

        var problems: [String] = []
        var operationIDs: [String: String] = [:]
        for (path, rawItem) in paths.sorted(by: { $0.key < $1.key }) {
            guard let item = rawItem as? [String: Any] else {
                problems.append("\(path): the path item is not an object")
                continue
            }
            let pathLevelParameters = item["parameters"] as? [Any] ?? []
            for method in Self.httpMethods {
                guard let rawOperation = item[method] else { continue }
                let name = "\(method.uppercased()) \(path)"
                guard let operation = rawOperation as? [String: Any] else {
                    problems.append("\(name): the operation is not an object")
                    continue
                }
                if !Self.supportedMethods.contains(method) {
                    problems.append("\(name): the server never registers \(method.uppercased()); the route comparison would miss it")
                }
                if let id = operation["operationId"] as? String, !id.isEmpty {
                    if let other = operationIDs[id] {
                        problems.append("\(name): operationId \(id) is also used by \(other)")
                    }
                    operationIDs[id] = name
                } else {
                    problems.append("\(name): no operationId")
                }
                let responses = operation["responses"] as? [String: Any] ?? [:]
                if !responses.keys.contains(where: { $0.hasPrefix("2") }) {
                    problems.append("\(name): no 2xx response")
                }
                if (operation["tags"] as? [Any])?.isEmpty ?? true {
                    problems.append("\(name): no tags")
                }
                if operation["security"] == nil && doc["security"] == nil {
                    problems.append("\(name): no security requirement (use `security: []` for open routes)")
                }
                // Every {template} segment has a path parameter, here or on the path item.
                let declared = Set((pathLevelParameters + (operation["parameters"] as? [Any] ?? [])).compactMap { raw -> String? in
                    guard let p = resolve(raw, in: doc) as? [String: Any], p["in"] as? String == "path" else { return nil }
                    return p["name"] as? String
                })
                for segment in path.split(separator: "/") where segment.hasPrefix("{") && segment.hasSuffix("}") {
                    let param = String(segment.dropFirst().dropLast())
                    if !declared.contains(param) { problems.append("\(name): path parameter {\(param)} is not declared") }
                }
            }
        }

        var refs: [(ref: String, at: String)] = []
        collectRefs(doc, at: "#", into: &refs)
        XCTAssertFalse(refs.isEmpty, "the document uses no $ref at all")
        for (ref, at) in refs {
            guard ref.hasPrefix("#/") else {
                problems.append("\(at): $ref \(ref) is not local to the document")
                continue
            }
            if pointer(ref, in: doc) == nil { problems.append("\(at): $ref \(ref) does not resolve") }
        }

        XCTAssertTrue(problems.isEmpty, "openapi.yaml has \(problems.count) problem(s):\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
    }

    // MARK: Helpers

    /// Follows a JSON pointer such as `#/components/schemas/Member`.
    func pointer(_ ref: String, in doc: Any) -> Any? {
        var node: Any? = doc
        for rawToken in ref.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let token = rawToken.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = node as? [String: Any] {
                node = object[token]
            } else if let array = node as? [Any], let index = Int(token), array.indices.contains(index) {
                node = array[index]
            } else {
                return nil
            }
            if node == nil { return nil }
        }
        return node
    }

    /// A node, or the node its `$ref` points at.
    func resolve(_ node: Any, in doc: Any) -> Any? {
        guard let object = node as? [String: Any], let ref = object["$ref"] as? String else { return node }
        return pointer(ref, in: doc)
    }

    func collectRefs(_ node: Any, at location: String, into refs: inout [(ref: String, at: String)]) {
        if let object = node as? [String: Any] {
            for (key, value) in object {
                if key == "$ref" {
                    if let ref = value as? String {
                        refs.append((ref, location))
                    } else {
                        refs.append(("<not a string>", location))
                    }
                } else {
                    collectRefs(value, at: location + "/" + key, into: &refs)
                }
            }
        } else if let array = node as? [Any] {
            for (i, value) in array.enumerated() { collectRefs(value, at: "\(location)/\(i)", into: &refs) }
        }
    }
}
