import Foundation
import JWTKit
import KeelCore

/// HS256 access tokens. Only the configured HMAC key verifies, so `alg: none` and foreign algorithms fail.
struct JWTCodec: AccessTokenCodec {
    let keys: JWTKeyCollection

    static func make(secret: String) async -> JWTCodec {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return JWTCodec(keys: keys)
    }

    struct Payload: JWTPayload {
        var sub: SubjectClaim
        var wid: String
        var jti: IDClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    func sign(_ c: AccessTokenClaims) async throws -> String {
        let payload = Payload(sub: SubjectClaim(value: c.userID.rawValue), wid: c.workspaceID.rawValue, jti: IDClaim(value: c.tokenID),
                              iat: IssuedAtClaim(value: c.issuedAt), exp: ExpirationClaim(value: c.expiresAt))
        return try await keys.sign(payload)
    }

    func verify(_ token: String) async throws -> AccessTokenClaims {
        let p = try await keys.verify(token, as: Payload.self)
        guard let user = UserID(p.sub.value), let ws = WorkspaceID(p.wid) else { throw JWTError.claimVerificationFailure(failedClaim: p.sub, reason: "bad subject") }
        return AccessTokenClaims(userID: user, workspaceID: ws, tokenID: p.jti.value, issuedAt: p.iat.value, expiresAt: p.exp.value)
    }
}
