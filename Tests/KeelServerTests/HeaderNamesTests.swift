import HTTPTypes
import XCTest
@testable import KeelServer

final class HeaderNamesTests: XCTestCase {
    func testEveryHeaderNameIsTheIntendedOne() {
        XCTAssertEqual(KeelHeader.all.map(\.canonicalName), ["x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "idempotency-key",
                                                               "idempotent-replayed"])
    }
}
