import Foundation
import XCTest
@testable import KeelCore

/// The request-body reader must give exactly what `JSONDecoder` gives on every body it accepts, and accept the common ones.
final class RequestJSONReaderTests: XCTestCase {
    private func quick(_ text: String) -> JSONValue? { quick(Array(text.utf8)) }
    private func quick(_ bytes: [UInt8]) -> JSONValue? { bytes.withUnsafeBytes { RequestJSONReader.parse($0) } }
    private func foundation(_ bytes: [UInt8]) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) }

    func testReadsCommonBodiesAsFoundationDoes() {
        let bodies = [
            #"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","tags":["vip","b2b"],"owner_id":null}"#,
            #" { "amount" : 1250 , "negative": -42, "zero": 0, "big": 999999999999999999, "flag": true, "off": false } "#,
            "{\"note\":\"line\\nbreak \\\"quoted\\\" back\\\\slash \\/ tab\\t \\u00e9 \\u0000 caf\u{e9} \u{1F600}\"}",
            #"[{"a":[]},{"b":{}},[],[[1]]]"#,
            "{}", "[]", "{\"\":\"\"}",
        ]
        for body in bodies {
            guard let value = quick(body) else { return XCTFail("not read: \(body)") }
            XCTAssertEqual(value, foundation(Array(body.utf8)), body)
        }
        XCTAssertEqual(quick(#"{"n":-7,"s":"\u0041"}"#), .object(["n": .number("-7"), "s": .string("A")]))
    }

    func testLeavesEveryOtherFormToFoundation() {
        let handedOver = [
            #"{"a":1.5}"#, #"{"a":1e3}"#, #"{"a":-0}"#, #"{"a":01}"#, #"{"a":1234567890123456789}"#, #"{"a":+1}"#,
            #"{"a":"\ud83d\ude00"}"#, #"{"a":"x","a":"y"}"#, #""text""#, "42", "true", "\u{FEFF}{}",
            "{\"a\":\"tab\there\"}", #"{"a":tru}"#, #"{"a":[1,2,]}"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, "{", "", " ",
            #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{} {}"#,
            String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
        ]
        for body in handedOver { XCTAssertNil(quick(body), body) }
        XCTAssertNil(quick([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]), "invalid UTF-8")
        XCTAssertNil(quick([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D]), "an encoded surrogate")
        // Foundation still reads the valid ones among them, and the request keeps that answer.
        XCTAssertEqual(foundation(Array(#"{"a":"\ud83d\ude00"}"#.utf8)), .object(["a": .string("\u{1F600}")]))
        XCTAssertEqual(foundation(Array(#"{"a":1.50}"#.utf8)), .object(["a": .number("1.5")]))
    }

    /// Random bodies and random damage to them: whatever the reader accepts, Foundation accepts with the same value.
    func testAgreesWithFoundationOnRandomAndDamagedBodies() {
        var rng = SplitMix(seed: 0x4B45454C)
        var accepted = 0, total = 0
        for round in 0..<3000 {
            var text = Array(render(randomValue(&rng, depth: 0, top: true), &rng).utf8)
            if round % 2 == 1 {
                for _ in 0..<(1 + Int(rng.next() % 3)) where !text.isEmpty {
                    let at = Int(rng.next() % UInt64(text.count))
                    let pool: [UInt8] = [0x22, 0x5C, 0x2C, 0x3A, 0x7B, 0x7D, 0x5B, 0x5D, 0x30, 0x2D, 0x2E, 0x65, 0x20, 0x0A, 0x01, 0xC3, 0xFF, 0x75]
                    switch rng.next() % 3 {
                    case 0: text.remove(at: at)
                    case 1: text.insert(pool[Int(rng.next() % UInt64(pool.count))], at: at)
                    default: text[at] = pool[Int(rng.next() % UInt64(pool.count))]
                    }
                }
            }
            total += 1
            guard let value = quick(text) else { continue }
            accepted += 1
            XCTAssertEqual(value, foundation(text), String(decoding: text, as: UTF8.self))
        }
        XCTAssertGreaterThan(accepted, total / 4, "the reader should take the plain bodies")
    }

    private func randomValue(_ rng: inout SplitMix, depth: Int, top: Bool = false) -> String {
        let kind = top ? 6 + Int(rng.next() % 2) : Int(rng.next() % (depth > 3 ? 6 : 8))
        switch kind {
        case 0: return ["true", "false", "null"][Int(rng.next() % 3)]
        case 1: return ["0", "7", "-13", "123456789012345678", "1.5", "-0", "1e5", "2.50", "1E-2", "99999999999999999999"][Int(rng.next() % 10)]
        case 2, 3, 4, 5: return "\"" + randomString(&rng) + "\""
        case 6:
            let keys = ["a", "b", "name", "email", "é", "x y", "a"]
            let n = Int(rng.next() % 5)
            return "{" + (0..<n).map { _ in "\"\(keys[Int(rng.next() % UInt64(keys.count))])\":\(randomValue(&rng, depth: depth + 1))" }.joined(separator: ",") + "}"
        default:
            let n = Int(rng.next() % 4)
            return "[" + (0..<n).map { _ in randomValue(&rng, depth: depth + 1) }.joined(separator: ", ") + "]"
        }
    }

    private func randomString(_ rng: inout SplitMix) -> String {
        let pieces = ["a", "Zz", " ", "é", "日本", "😀", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\u0000", "\\ud83d\\ude00", "\\t", "1", "@"]
        return (0..<Int(rng.next() % 6)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }

    private func render(_ text: String, _ rng: inout SplitMix) -> String {
        rng.next() % 4 == 0 ? " \(text)\n" : text
    }
}

private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
