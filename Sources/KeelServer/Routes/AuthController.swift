import Foundation
import KeelCore

/// `/auth/*`: sign-up, login, token rotation, logout, password reset, workspace switching.
struct AuthController {
    func register(on r: APIRouter) {
        r.post("/api/v1/auth/signup", .open) { req in
            let body = try req.decode(SignupBody.self)
            let tokens = try await req.services.auth.signup(
                SignupInput(email: body.email, password: body.password, name: body.name, workspaceName: body.workspace_name), meta: req.meta)
            return try req.ok(TokensDTO(tokens), status: .created, location: "/api/v1/users/me")
        }
        r.post("/api/v1/auth/login", .open) { req in
            let body = try req.decode(LoginBody.self)
            var workspaceID: WorkspaceID?
            if let raw = body.workspace_id {
                guard let id = WorkspaceID(raw) else { throw APIError.validation("workspace_id", "not_found", "No such workspace.") }
                workspaceID = id
            }
            let emailKey = "login:" + body.email.trimmingCharacters(in: .whitespaces).lowercased()
            let decision = req.services.loginLimiter.take(emailKey)
            guard decision.allowed else {
                var reply = Reply.error(APIError(.rateLimited, "Too many login attempts for this e-mail; retry after \(decision.retryAfter) s."),
                                        requestID: req.requestID)
                reply.headers[.retryAfter] = String(decision.retryAfter)
                return reply
            }
            let tokens = try await req.services.auth.login(email: body.email, password: body.password, workspaceID: workspaceID, meta: req.meta)
            return try req.ok(TokensDTO(tokens))
        }
        r.post("/api/v1/auth/refresh", .open) { req in
            let body = try req.decode(RefreshTokenBody.self)
            return try req.ok(TokensDTO(try await req.services.auth.refresh(body.refresh_token, meta: req.meta)))
        }
        r.post("/api/v1/auth/logout", .userSession) { req in
            try await req.services.auth.logout(try req.caller())
            req.services.credentialCache.invalidateAll()
            return .noContent
        }
        r.post("/api/v1/auth/revoke", .open) { req in
            let body = try req.decode(RefreshTokenBody.self)
            try await req.services.auth.revoke(refreshToken: body.refresh_token)
            return .noContent
        }
        r.post("/api/v1/auth/password-reset/request", .open) { req in
            let body = try req.decode(EmailBody.self)
            try await req.services.auth.requestPasswordReset(email: body.email)
            return .noContent
        }
        r.post("/api/v1/auth/password-reset/confirm", .open) { req in
            let body = try req.decode(ResetConfirmBody.self)
            try await req.services.auth.confirmPasswordReset(token: body.token, newPassword: body.new_password)
            req.services.credentialCache.invalidateAll()
            return .noContent
        }
        r.post("/api/v1/auth/switch-workspace", .userSession) { req in
            let body = try req.decode(SwitchWorkspaceBody.self)
            guard let id = WorkspaceID(body.workspace_id) else {
                throw APIError.validation("workspace_id", "not_found", "You are not a member of that workspace.")
            }
            return try req.ok(TokensDTO(try await req.services.auth.switchWorkspace(try req.caller(), to: id)))
        }
    }
}
