import Foundation
import XCTest

final class AuthTests: XCTestCase {
    func testSignupLoginAndMe() async throws {
        try await withApp { api, _ in
            let s = try await api.signup()
            XCTAssertTrue(s.accessToken.split(separator: ".").count == 3)
            XCTAssertTrue(s.refreshToken.hasPrefix("rt_"))
            let me = try await api.get("/api/v1/users/me", token: s.accessToken)
            XCTAssertEqual(me.code, 200, me.text)
            XCTAssertEqual(me.data["email"] as? String, "owner@example.com")
            XCTAssertNotNil(me.header("X-Request-Id"))
            let login = try await api.login(email: "OWNER@example.com ")
            XCTAssertEqual(login.code, 200, login.text)
            XCTAssertEqual(login.data["token_type"] as? String, "Bearer")
            XCTAssertEqual(login.data["expires_in"] as? Int, 900)
        }
    }
}
