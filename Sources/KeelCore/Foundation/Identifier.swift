import Foundation

/// The kinds of record Keel hands out identifiers for, each with its public prefix.
public enum IDPrefix: String, Sendable, CaseIterable {
    case workspace = "wsp", user = "usr", member = "mem", invitation = "inv", apiKey = "key"
    case contact = "con", company = "com", lead = "lead", pipeline = "pipe", stage = "stg", deal = "deal"
    case product = "prd", lineItem = "li", task = "task", activity = "act", note = "note", customField = "cf"
    case automation = "aut", run = "run", webhook = "whk", event = "evt", delivery = "dlv"
    case importJob = "imp", exportJob = "exp", audit = "aud", request = "req"
    case refreshToken = "rft", passwordReset = "pwr", mail = "mail"
}

public protocol IDKind: Sendable {
    static var prefix: IDPrefix { get }
}

/// A prefixed, time-sortable identifier: `con_01JD5X8...` (prefix + `_` + ULID).
public struct TypedID<Kind: IDKind>: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// Accepts only well-formed ids of this kind, so a wrong prefix never reaches SQL.
    public init?(_ raw: String) {
        guard TypedID.isWellFormed(raw) else { return nil }
        self.rawValue = raw
    }

    public init(trusted raw: String) { self.rawValue = raw }

    public static func generate(at date: Date = Date()) -> TypedID<Kind> {
        TypedID(trusted: "\(Kind.prefix.rawValue)_\(ULID.make(at: date))")
    }

    public static func isWellFormed(_ raw: String) -> Bool {
        let prefix = Kind.prefix.rawValue + "_"
        guard raw.hasPrefix(prefix) else { return false }
        return ULID.isValid(raw.dropFirst(prefix.count))
    }

    public var description: String { rawValue }
    public static func < (lhs: TypedID<Kind>, rhs: TypedID<Kind>) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard TypedID.isWellFormed(raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a \(Kind.prefix.rawValue)_ id")
        }
        self.rawValue = raw
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public enum WorkspaceKind: IDKind { public static let prefix = IDPrefix.workspace }
public enum UserKind: IDKind { public static let prefix = IDPrefix.user }
public enum MemberKind: IDKind { public static let prefix = IDPrefix.member }
public enum InvitationKind: IDKind { public static let prefix = IDPrefix.invitation }
public enum APIKeyKind: IDKind { public static let prefix = IDPrefix.apiKey }
public enum AuditKind: IDKind { public static let prefix = IDPrefix.audit }
public enum EventKind: IDKind { public static let prefix = IDPrefix.event }
public enum RefreshTokenKind: IDKind { public static let prefix = IDPrefix.refreshToken }
public enum PasswordResetKind: IDKind { public static let prefix = IDPrefix.passwordReset }
public enum MailKind: IDKind { public static let prefix = IDPrefix.mail }
public enum RequestKind: IDKind { public static let prefix = IDPrefix.request }

public typealias WorkspaceID = TypedID<WorkspaceKind>
public typealias UserID = TypedID<UserKind>
public typealias MemberID = TypedID<MemberKind>
public typealias InvitationID = TypedID<InvitationKind>
public typealias APIKeyID = TypedID<APIKeyKind>
public typealias AuditID = TypedID<AuditKind>
public typealias EventID = TypedID<EventKind>
public typealias RefreshTokenID = TypedID<RefreshTokenKind>
public typealias PasswordResetID = TypedID<PasswordResetKind>
public typealias MailID = TypedID<MailKind>

/// ULID: 48-bit millisecond timestamp + 80 random bits, Crockford base32, 26 characters.
public enum ULID {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let valid: Set<UInt8> = Set(alphabet)

    public static func make(at date: Date = Date()) -> String {
        encode(rawBytes(at: date))
    }

    /// ULIDs that sort in the order they are taken, even within one millisecond (a batch's rows keep their order).
    public struct Sequence: Sendable {
        var bytes: [UInt8]

        public init(at date: Date = Date()) {
            bytes = ULID.rawBytes(at: date)
            // Room to count up without carrying into the timestamp.
            bytes[6] = 0
        }

        public mutating func next() -> String {
            for i in stride(from: 15, through: 7, by: -1) {
                bytes[i] &+= 1
                if bytes[i] != 0 { break }
            }
            return ULID.encode(bytes)
        }
    }

    static func rawBytes(at date: Date) -> [UInt8] {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8((millis >> UInt64(8 * (5 - i))) & 0xFF) }
        RandomPool.fill(&bytes, from: 6, count: 10)
        return bytes
    }

    static func encode(_ bytes: [UInt8]) -> String {
        // 128 bits -> 26 chars of 5 bits (the first char carries 3 bits).
        var value = (UInt64(0), UInt64(0))
        for i in 0..<8 { value.0 = (value.0 << 8) | UInt64(bytes[i]) }
        for i in 8..<16 { value.1 = (value.1 << 8) | UInt64(bytes[i]) }
        var out = [UInt8](repeating: 0, count: 26)
        var hi = value.0, lo = value.1
        for i in stride(from: 25, through: 0, by: -1) {
            out[i] = alphabet[Int(lo & 0x1F)]
            lo = (lo >> 5) | ((hi & 0x1F) << 59)
            hi >>= 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func isValid(_ text: Substring) -> Bool {
        let utf8 = text.utf8
        guard utf8.count == 26, let first = utf8.first, first <= UInt8(ascii: "7") else { return false }
        return utf8.allSatisfy { valid.contains($0) }
    }
}

public enum WebhookKind: IDKind { public static let prefix = IDPrefix.webhook }
public enum DeliveryKind: IDKind { public static let prefix = IDPrefix.delivery }
public enum AutomationKind: IDKind { public static let prefix = IDPrefix.automation }
public enum RunKind: IDKind { public static let prefix = IDPrefix.run }
public typealias WebhookID = TypedID<WebhookKind>
public typealias DeliveryID = TypedID<DeliveryKind>
public typealias AutomationID = TypedID<AutomationKind>
public typealias RunID = TypedID<RunKind>
