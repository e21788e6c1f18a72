import Foundation
@testable import KeelCore
import XCTest

final class IdentifierTests: XCTestCase {
    func testGeneratedIDsAreWellFormedAndTimeSortable() {
        let a = ContactLikeID.generate(at: Date(timeIntervalSince1970: 1_700_000_000))
        let b = ContactLikeID.generate(at: Date(timeIntervalSince1970: 1_700_000_001))
        XCTAssertTrue(a.rawValue.hasPrefix("usr_"))
        XCTAssertEqual(a.rawValue.count, 4 + 26)
        XCTAssertLessThan(a, b)
        XCTAssertNotNil(UserID(a.rawValue))
    }

    func testWrongPrefixOrShapeIsRejected() {
        let id = UserID.generate().rawValue
        XCTAssertNil(WorkspaceID(id))
        XCTAssertNil(UserID("usr_"))
        XCTAssertNil(UserID("usr_01HZZZZZZZZZZZZZZZZZZZZZZ"))        // 25 chars
        XCTAssertNil(UserID("usr_01HZZZZZZZZZZZZZZZZZZZZZZI"))       // I is not Crockford
        XCTAssertNil(UserID("usr_81HZZZZZZZZZZZZZZZZZZZZZZZ"))       // overflows 128 bits
        XCTAssertNil(UserID("' OR 1=1 --"))
    }

    func testULIDEncodesTimestampPrefix() {
        // 1469922850000 ms in Crockford base32, computed independently.
        let date = Date(timeIntervalSince1970: 1_469_922_850)
        XCTAssertTrue(ULID.make(at: date).hasPrefix("01ARZ3ND6G"))
    }

    /// The random part comes from a pool refilled 4 KB at a time: ids taken at once from many tasks, across many refills,
    /// are all different, and the random bytes look uniform (each byte value about equally often).
    func testULIDRandomnessIsUniqueAcrossRefillsAndTasksAndUniform() async {
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (0..<2_000).map { _ in ULID.make(at: date) } } }
            var all: [String] = []
            for await part in group { all += part }
            return all
        }
        XCTAssertEqual(ids.count, 16_000)
        XCTAssertEqual(Set(ids).count, 16_000, "16,000 ids in one millisecond, about 40 refills of the pool, none repeated")
        var counts = [Int](repeating: 0, count: 256)
        for _ in 0..<3_000 {
            for byte in ULID.rawBytes(at: date)[6...] { counts[Int(byte)] += 1 }
        }
        // 30,000 bytes over 256 values: about 117 each; a fixed or stuck source would pile onto a few values.
        XCTAssertGreaterThan(counts.min() ?? 0, 60)
        XCTAssertLessThan(counts.max() ?? 0, 190)
        let sameAsZero = ULID.rawBytes(at: date)[6...].allSatisfy { $0 == 0 }
        XCTAssertFalse(sameAsZero)
    }
}

typealias ContactLikeID = UserID

final class TimestampTests: XCTestCase {
    func testFormatsWithMillisecondsInUTC() {
        XCTAssertEqual(Timestamp.format(millis: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.format(millis: 1_773_662_400_123), "2026-03-16T12:00:00.123Z")
        XCTAssertEqual(Timestamp.format(millis: -1), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(Timestamp.format(millis: 253_402_300_799_999), "9999-12-31T23:59:59.999Z")
        XCTAssertEqual(Timestamp.format(millis: -62_167_219_200_000), "0000-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.format(millis: 253_402_300_800_000), "10000-01-01T00:00:00.000Z")
    }

    /// The byte writer agrees with Foundation's calendar, and every output reads back to the same instant.
    func testFormatAgreesWithFoundationsCalendarAcrossTheRange() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try XCTUnwrap(TimeZone(identifier: "UTC"))
        var state: UInt64 = 0x5EED
        for _ in 0..<5000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Foundation's calendar turns Julian before 1582; RFC 3339 (and ours) stays Gregorian, so compare from 1583.
            let millis = Int64(state >> 20) % (253_402_300_800_000 + 12_212_553_600_000) - 12_212_553_600_000
            let text = Timestamp.format(millis: millis)
            let date = Timestamp.date(millis)
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year ?? -1, c.month ?? -1, c.day ?? -1, c.hour ?? -1,
                                  c.minute ?? -1, c.second ?? -1, Int(((millis % 1000) + 1000) % 1000))
            XCTAssertEqual(text, expected, "\(millis)")
            XCTAssertEqual(Timestamp.parse(text).map(Timestamp.millis), millis, text)
        }
    }

    func testParsesOffsetsFractionsAndDates() throws {
        let a = try XCTUnwrap(Timestamp.parse("2026-03-16T12:00:00.123Z"))
        XCTAssertEqual(Timestamp.millis(a), 1_773_662_400_123)
        let b = try XCTUnwrap(Timestamp.parse("2026-03-16T14:00:00+02:00"))
        XCTAssertEqual(Timestamp.millis(b), 1_773_662_400_000)
        let c = try XCTUnwrap(Timestamp.parse("2026-03-16"))
        XCTAssertEqual(Timestamp.format(c), "2026-03-16T00:00:00.000Z")
        XCTAssertEqual(Timestamp.format(try XCTUnwrap(Timestamp.parse("2024-02-29"))), "2024-02-29T00:00:00.000Z")
    }

    func testRejectsImpossibleDates() {
        for bad in ["2026-02-30", "2025-02-29", "2026-13-01", "2026-03-16T25:00:00Z", "yesterday", "2026-03-16T12:00:00", "", "2026-03-16T12:00:00.Z"] {
            XCTAssertNil(Timestamp.parse(bad), bad)
        }
    }
}

final class Base64URLTests: XCTestCase {
    /// The direct encoder must equal Foundation's base64 with the URL alphabet and no padding, for every length remainder.
    func testMatchesFoundationWithTheURLAlphabetAndRoundTrips() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let expected = data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            let encoded = SecureToken.base64URL(data)
            XCTAssertEqual(encoded, expected, "length \(length)")
            XCTAssertEqual(SecureToken.fromBase64URL(encoded), data, "length \(length)")
        }
        XCTAssertEqual(SecureToken.base64URL(Data([0xFB, 0xFF])), "-_8")
        XCTAssertNil(SecureToken.fromBase64URL("a+b/"), "the standard alphabet is refused")
    }
}

final class CursorTests: XCTestCase {
    func testRoundTrip() throws {
        let c = Cursor(values: ["abc", nil, "3"], queryFingerprint: "q1")
        let text = c.encode(secret: "s3cret")
        XCTAssertEqual(try Cursor.decode(text, secret: "s3cret", expectedFingerprint: "q1"), c)
        let awkward = Cursor(values: ["a/b \"q\" \\ é\n", nil], queryFingerprint: "contact|Optional(x/y)|\"t\"|k|false")
        XCTAssertEqual(try Cursor.decode(awkward.encode(secret: "s"), secret: "s", expectedFingerprint: awkward.queryFingerprint), awkward)
    }

    /// Cursors handed out before the payload was written by FastJSON (JSONEncoder's form, slashes escaped) still read back.
    func testCursorsInJSONEncodersFormStillDecode() throws {
        struct Old: Encodable { var v: [String?]; var q: String }
        let json = try JSONEncoder().encode(Old(v: ["2026-01-01T00:00:00.000Z", "con_1"], q: "contact|Optional(a/b)|x|k|false"))
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains("\\/"), "JSONEncoder escapes slashes")
        let body = SecureToken.base64URL(json)
        let text = body + "." + SecureToken.base64URL(SecureToken.hmac(key: "s", message: Data(body.utf8)).prefix(16))
        XCTAssertEqual(try Cursor.decode(text, secret: "s", expectedFingerprint: "contact|Optional(a/b)|x|k|false"),
                       Cursor(values: ["2026-01-01T00:00:00.000Z", "con_1"], queryFingerprint: "contact|Optional(a/b)|x|k|false"))
    }

    /// The kept texts are the described ones, and different queries keep different texts.
    func testQueryFingerprintsAreTheDescribedTextsAndTellQueriesApart() {
        let target = FilterTarget.column(name: "email", column: "email", lower: nil, family: .text, caseInsensitive: true)
        let sort = SortKey(target: target, descending: true, nullable: true)
        let filters: [FilterNode?] = [nil, .compare(target, .eq, [.text("a@b.c")]), .compare(target, .eq, [.text("a@b.d")]),
                                      .and([.isNull(target, true), .not(.always(false))]), .compare(target, .in, [.int(1), .double(2.5), .bool(true)])]
        var seen = Set<String>()
        for filter in filters {
            for deleted in [false, true] {
                let expected = QueryFingerprints.describe(type: "contact", filter: filter, text: "q", sort: sort, includeDeleted: deleted)
                XCTAssertEqual(QueryFingerprints.shared.text(type: "contact", filter: filter, text: "q", sort: sort, includeDeleted: deleted), expected)
                XCTAssertEqual(QueryFingerprints.shared.text(type: "contact", filter: filter, text: "q", sort: sort, includeDeleted: deleted), expected)
                seen.insert(expected)
            }
        }
        XCTAssertEqual(seen.count, filters.count * 2)
        XCTAssertNotEqual(QueryFingerprints.shared.text(type: "company", filter: nil, text: nil, sort: sort, includeDeleted: false),
                          QueryFingerprints.shared.text(type: "contact", filter: nil, text: nil, sort: sort, includeDeleted: false))
    }

    func testTamperedOrForeignCursorIsBadRequest() {
        let text = Cursor(values: ["abc"], queryFingerprint: "q1").encode(secret: "s3cret")
        var chars = Array(text)
        chars[2] = chars[2] == "A" ? "B" : "A"
        for bad in [String(chars), text + "x", "garbage", "", text.replacingOccurrences(of: ".", with: "")] {
            XCTAssertThrowsError(try Cursor.decode(bad, secret: "s3cret", expectedFingerprint: "q1")) { e in
                XCTAssertEqual((e as? APIError)?.kind, .badRequest)
            }
        }
        XCTAssertThrowsError(try Cursor.decode(text, secret: "other", expectedFingerprint: "q1"))
        XCTAssertThrowsError(try Cursor.decode(text, secret: "s3cret", expectedFingerprint: "q2"))
    }

    func testPageRequestValidation() throws {
        XCTAssertEqual(try PageRequest.parse(limit: nil, cursor: nil, includeTotal: nil).limit, 50)
        XCTAssertEqual(try PageRequest.parse(limit: "200", cursor: nil, includeTotal: "true").limit, 200)
        for bad in ["0", "201", "-1", "ten", "1.5"] {
            XCTAssertThrowsError(try PageRequest.parse(limit: bad, cursor: nil, includeTotal: nil), bad)
        }
        XCTAssertThrowsError(try PageRequest.parse(limit: nil, cursor: nil, includeTotal: "maybe"))
    }

    func testPagingBuildsNextCursorOnlyWhenMoreRows() {
        let codec = CursorCodec(secret: "k")
        let full = codec.page([1, 2, 3], limit: 2, fingerprint: "f") { [String($0)] }
        XCTAssertEqual(full.items, [1, 2])
        XCTAssertTrue(full.hasMore)
        let last = codec.page([1, 2], limit: 2, fingerprint: "f") { [String($0)] }
        XCTAssertFalse(last.hasMore)
        XCTAssertNil(last.nextCursor)
    }
}

final class AccessTests: XCTestCase {
    func scope(_ s: String) throws -> Scope { try XCTUnwrap(Scope(s)) }

    func testScopeCoverage() throws {
        XCTAssertTrue(try scope("contacts:write").covers(try scope("contacts:read")))
        XCTAssertFalse(try scope("contacts:read").covers(try scope("contacts:write")))
        XCTAssertTrue(try scope("crm:read").covers(try scope("deals:read")))
        XCTAssertFalse(try scope("crm:read").covers(try scope("deals:write")))
        XCTAssertFalse(try scope("crm:write").covers(try scope("webhooks:read")))
        XCTAssertTrue(try scope("*").covers(try scope("audit:read")))
        XCTAssertNil(Scope("contacts:delete"))
        XCTAssertNil(Scope("secrets:read"))
        XCTAssertNil(Scope("contacts"))
    }

    func testRoleCeilings() throws {
        XCTAssertTrue(Role.viewer.allows(try scope("contacts:read")))
        XCTAssertFalse(Role.viewer.allows(try scope("contacts:write")))
        XCTAssertTrue(Role.member.allows(try scope("contacts:write")))
        XCTAssertFalse(Role.member.allows(try scope("members:write")))
        XCTAssertFalse(Role.member.allows(try scope("audit:read")))
        XCTAssertTrue(Role.admin.allows(try scope("audit:read")))
        XCTAssertTrue(Role.owner > Role.admin && Role.admin > Role.member && Role.member > Role.viewer)
    }

    func testPrincipalNeedsBothRoleAndScope() throws {
        let p = Principal(userID: .generate(), workspaceID: .generate(), memberID: .generate(), role: .viewer,
                          scopes: [Scope.all], credential: .apiKey(.generate()))
        XCTAssertTrue(p.has(try scope("contacts:read")))
        XCTAssertFalse(p.has(try scope("contacts:write")))
        XCTAssertThrowsError(try p.require(try scope("contacts:write"))) { e in
            XCTAssertEqual((e as? APIError)?.kind, .forbidden)
            XCTAssertEqual((e as? APIError)?.details.first?.scope, "contacts:write")
        }
        XCTAssertEqual(p.actor.type, .apiKey)
    }
}

final class NormalizeTests: XCTestCase {
    func testEmail() {
        XCTAssertEqual(Normalize.email("  Ada@Example.COM "), "ada@example.com")
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@-example.com", "ada@@example.com"] {
            XCTAssertNil(Normalize.email(bad), bad)
        }
    }

    /// The byte-level path for ASCII addresses agrees with the Character-level one on every input, including the length
    /// limits, whitespace inside and around, and malformed domains.
    func testASCIIEmailPathAgreesWithTheUnicodePath() {
        let alphabet = Array("aZ09@.-_+ \t\n\r\u{0B}\u{0C}xY")
        var rng = SplitMix(seed: 42)
        var accepted = 0
        for _ in 0..<40_000 {
            let length = Int(rng.next() % 16)
            let text = String((0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            // Most random strings are not addresses; wrap some in a plausible frame so both outcomes are exercised.
            let candidates = [text, "a\(text)@b\(text).com", " \(text)x@example.\(text) "]
            for candidate in candidates {
                let ascii = Normalize.asciiEmail(candidate)
                XCTAssertEqual(ascii, Normalize.unicodeEmail(candidate), candidate.debugDescription)
                if ascii != nil { accepted += 1 }
            }
        }
        XCTAssertGreaterThan(accepted, 1_000, "the generator must produce valid addresses too")
        let local64 = String(repeating: "a", count: 64), local65 = String(repeating: "a", count: 65)
        let long254 = local64 + "@" + String(repeating: "b", count: 185) + ".com", long255 = "c" + long254
        for edge in [local64 + "@example.com", local65 + "@example.com", long254, long255, "a@b.c", "a@b.-c", "a@b-.c", "a@.b.c",
                     "a@b..c", "a@b.c.", "A@B.C", "\r\na@b.c\r\n", "a\r\nb@c.d", "a@b_c.d", "@", "a@b@c.d"] {
            XCTAssertEqual(Normalize.asciiEmail(edge), Normalize.unicodeEmail(edge), edge.debugDescription)
        }
        XCTAssertEqual(Normalize.email(long254)?.utf8.count, 254)
        XCTAssertNil(Normalize.email(long255))
        XCTAssertEqual(Normalize.email("Zoë@Example.com"), "zoë@example.com", "non-ASCII input takes the Character-level path")
    }

    func testPasswordLimits() {
        var v = Validator()
        Normalize.password("short", into: &v)
        Normalize.password(String(repeating: "x", count: 73), into: &v)
        Normalize.password("just right", into: &v)
        XCTAssertEqual(v.details.map(\.code), ["too_short", "too_long"])
    }

    func testJSONValueKeepsNumberText() throws {
        let v = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"a": 10.10, "b": 12345678901234567}"#.utf8))
        guard case .object(let o) = v else { return XCTFail("not an object") }
        XCTAssertEqual(o["b"], .number("12345678901234567"))
        XCTAssertNotNil(o["a"])
    }
}

final class DemoDataTests: XCTestCase {
    /// Demo phone numbers keep the width `String(format: "%0Nd")` gave them, so a seed still makes the same data.
    func testZeroPaddingMatchesFormat() {
        for n in [0, 7, 42, 1_234_567, 9_999_999, 12_345_678, 99_999_999] {
            XCTAssertEqual(DemoData.zeroPadded(n, 7), String(format: "%07d", n))
            XCTAssertEqual(DemoData.zeroPadded(n, 8), String(format: "%08d", n))
        }
    }
}

final class FastJSONTests: XCTestCase {
    func testRoundTripKeepsNumbersAndEscapes() throws {
        let text = #"{"a":[1,2.50,-3e2,true,false,null],"b":"x\"y\\z\n\u00e9\ud83d\ude00/","c":{}}"#
        let v = try XCTUnwrap(JSONValue.parse(text))
        guard case .object(let o) = v, case .array(let a)? = o["a"] else { return XCTFail("shape") }
        XCTAssertEqual(a[1], .number("2.50"))
        XCTAssertEqual(a[2], .number("-3e2"))
        XCTAssertEqual(o["b"], .string("x\"y\\z\né😀/"))
        let again = try XCTUnwrap(JSONValue.parse(v.jsonString()))
        XCTAssertEqual(again, v)
        // What FastJSON writes is valid JSON for Foundation too.
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(v.jsonString().utf8)))
    }

    func testWritesSortedKeysAndEscapesExactly() throws {
        let v = JSONValue.object(["b": .string("plain"), "a": .string("q\"b\\c\u{1}\t/"), "é": .number("1"), "A": .null,
                                  "n": .array([.object(["z": .bool(true), "y": .bool(false)])])])
        XCTAssertEqual(v.jsonString(), #"{"A":null,"a":"q\"b\\c\u0001\t/","b":"plain","n":[{"y":false,"z":true}],"é":1}"#)
        // Strings drawn from an alphabet heavy in characters that need escaping come back exactly, through Foundation too.
        var rng = SplitMix(seed: 11)
        let alphabet: [String] = ["a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "😀", "\u{2028}"]
        for _ in 0..<2_000 {
            let text = (0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
            let written = JSONValue.object([text: .string(text)]).jsonString()
            XCTAssertEqual(JSONValue.parse(written), .object([text: .string(text)]), written)
            let foundation = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: String]
            XCTAssertEqual(foundation, [text: text], written)
        }
    }

    func testRejectsMalformedText() {
        for bad in ["{", "[1,]", "{\"a\" 1}", "\"unterminated", "tru", "{\"a\":1} x"] {
            XCTAssertNil(JSONValue.parse(bad), bad)
        }
    }
}

/// A small seeded generator, so a failing case can be reproduced.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
