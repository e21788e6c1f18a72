import KeelCore

struct APIKeysController {
    func register(on r: APIRouter) {
        r.post("/api/v1/api-keys", .userSession) { req in
            let body = try req.decode(APIKeyCreateBody.self)
            let created = try await req.services.apiKeys.create(try req.caller(), name: body.name, scopes: body.scopes, expiresAt: body.expires_at,
                                                                 meta: req.meta)
            return try req.created(APIKeyDTO(created.key, secret: created.secret), location: "/api/v1/api-keys/\(created.key.id.rawValue)")
        }
        r.get("/api/v1/api-keys", .userSession) { req in
            let page = try await req.services.apiKeys.list(try req.caller(), includeRevoked: try req.queryBool("include_revoked") ?? false,
                                                           page: try req.page())
            return try req.list(page.map { APIKeyDTO($0) })
        }
        r.get("/api/v1/api-keys/{id}", .userSession) { req in
            let key = try await req.services.apiKeys.get(try req.caller(), try req.id("id", as: APIKeyKind.self))
            return try req.ok(APIKeyDTO(key), version: key.version)
        }
        r.patch("/api/v1/api-keys/{id}", .userSession) { req in
            let p = try req.caller()
            let id = try req.id("id", as: APIKeyKind.self)
            // The path id is resolved before the body is read (404 comes before 415/400/422).
            _ = try await req.services.apiKeys.get(p, id)
            let body = try req.decode(APIKeyPatchBody.self)
            let key = try await req.services.apiKeys.update(p, id, name: try body.name.required("name"), scopes: try body.scopes.required("scopes"),
                                                            expectedVersion: try req.ifMatch() ?? body.version.required("version"), meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return try req.ok(APIKeyDTO(key), version: key.version)
        }
        r.delete("/api/v1/api-keys/{id}", .userSession) { req in
            try await req.services.apiKeys.revoke(try req.caller(), try req.id("id", as: APIKeyKind.self), meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return .noContent
        }
        r.post("/api/v1/api-keys/{id}/rotate", .userSession) { req in
            let rotated = try await req.services.apiKeys.rotate(try req.caller(), try req.id("id", as: APIKeyKind.self), meta: req.meta)
            req.services.credentialCache.invalidateAll()
            return try req.ok(APIKeyDTO(rotated.key, secret: rotated.secret), version: rotated.key.version)
        }
    }
}
