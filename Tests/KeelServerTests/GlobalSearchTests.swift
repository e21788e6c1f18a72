import Foundation
import XCTest

final class GlobalSearchTests: XCTestCase {
    func testRankedAcrossTypesWithTypos() async throws {
        try await withApp { api, _ in
            let t = try await api.signup().accessToken
            _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.org"])
            _ = try await api.post("/api/v1/contacts", token: t, json: ["first_name": "Adam", "last_name": "Smith"])
            _ = try await api.post("/api/v1/companies", token: t, json: ["name": "Analytical Engines", "domain": "analytical.org"])
            _ = try await api.post("/api/v1/leads", token: t, json: ["name": "Ada Byron", "company_name": "Lovelace Ltd"])
            let exact = try await api.get("/api/v1/search?q=ada%20lovelace", token: t)
            XCTAssertEqual(exact.code, 200, exact.text)
            XCTAssertEqual(exact.items.first?["title"] as? String, "Ada Lovelace")
            XCTAssertEqual(exact.items.first?["score"] as? Double, 1)
            let typo = try await api.get("/api/v1/search?q=lovelase&types=contact", token: t)
            XCTAssertEqual(typo.items.first?["title"] as? String, "Ada Lovelace", typo.text)
            let domain = try await api.get("/api/v1/search?q=analytical.org", token: t)
            XCTAssertTrue(Set(domain.items.compactMap { $0["type"] as? String }).isSuperset(of: ["contact", "company"]), domain.text)
            let short = try await api.get("/api/v1/search?q=ad", token: t)
            XCTAssertEqual(short.code, 400)
            let badType = try await api.get("/api/v1/search?q=ada&types=planet", token: t)
            XCTAssertEqual(badType.code, 400)
        }
    }

    func testAnotherWorkspaceSeesNothing() async throws {
        try await withApp({ $0.openSignup = true }) { api, _ in
            let a = try await api.signup().accessToken
            _ = try await api.post("/api/v1/contacts", token: a, json: ["first_name": "Grace", "last_name": "Hopper"])
            let b = try await api.signup(email: "b@example.com", workspace: "B").accessToken
            let theirs = try await api.get("/api/v1/search?q=grace", token: b)
            XCTAssertEqual(theirs.code, 200)
            XCTAssertEqual(theirs.items.count, 0, theirs.text)
        }
    }

    func testPrivateRecordsStayOutOfOthersResults() async throws {
        try await withApp { api, _ in
            let owner = try await api.signup().accessToken
            _ = try await api.post("/api/v1/contacts", token: owner, json: ["first_name": "Secret", "last_name": "Agent", "visibility": "private"])
            let member = try await api.addMember(owner, email: "m@example.com", role: "member")
            let theirs = try await api.get("/api/v1/search?q=secret", token: member.accessToken)
            XCTAssertEqual(theirs.items.count, 0, theirs.text)
            let mine = try await api.get("/api/v1/search?q=secret", token: owner)
            XCTAssertEqual(mine.items.count, 1)
        }
    }
}
