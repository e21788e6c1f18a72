import Logging
import XCTest
@testable import KeelServer

final class LogAndTokenTests: XCTestCase {
    /// Metadata set key by key is rendered once, at the line, sorted, with the line's own metadata and error on top.
    func testLogLinesKeepStreamLogHandlersFormat() {
        var handler = KeelLogHandler(label: "keel")
        handler[metadataKey: "request_id"] = "req_1"
        handler[metadataKey: "workspace_id"] = "wsp_1"
        handler[metadataKey: "request_id"] = "req_2"
        XCTAssertEqual(handler[metadataKey: "request_id"], "req_2")
        let event = LogEvent(level: .warning, message: "slow", metadata: ["duration_ms": "12.50", "workspace_id": "wsp_9"], source: "KeelServer",
                             file: #fileID, function: #function, line: #line)
        XCTAssertEqual(handler.line(event, timestamp: "T"), "T warning keel: duration_ms=12.50 request_id=req_2 workspace_id=wsp_9 [KeelServer] slow\n")
        let bare = KeelLogHandler(label: "")
        XCTAssertEqual(bare.line(LogEvent(level: .error, message: "m", metadata: nil, source: "S", file: "", function: "", line: 0), timestamp: "T"),
                       "T error: [S] m\n")
        XCTAssertTrue(KeelLogHandler.timestamp().range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$"#, options: .regularExpression) != nil,
                      KeelLogHandler.timestamp())
    }

    func testBearerTokensLoseOnlySurroundingSpacesAndTabs() {
        XCTAssertEqual(AuthMiddleware.trimmed(" \tkeel_live_abc \t"[...]), "keel_live_abc")
        XCTAssertEqual(AuthMiddleware.trimmed("a b"[...]), "a b")
        XCTAssertEqual(AuthMiddleware.trimmed("   "[...]), "")
        XCTAssertEqual(AuthMiddleware.trimmed("tøken"[...]), "tøken")
    }
}
