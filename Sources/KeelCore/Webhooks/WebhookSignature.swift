import Crypto
import Foundation

/// `Keel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=<old secret's>]`.
public enum WebhookSignature {
    public static func hex(secret: String, timestamp: Int, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    public static func header(secrets: [String], timestamp: Int, body: String) -> String {
        (["t=\(timestamp)"] + secrets.map { "v1=\(hex(secret: $0, timestamp: timestamp, body: body))" }).joined(separator: ",")
    }

    /// What a receiver does: any `v1` matching, and a timestamp within `tolerance` of now (replay protection).
    public static func verify(header: String, body: String, secret: String, now: Date, tolerance: TimeInterval = 300) -> Bool {
        var timestamp: Int?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0] == "t" { timestamp = Int(kv[1]) } else if kv[0] == "v1" { signatures.append(kv[1]) }
        }
        guard let t = timestamp, abs(now.timeIntervalSince1970 - Double(t)) <= tolerance else { return false }
        let expected = Array(hex(secret: secret, timestamp: t, body: body).utf8)
        return signatures.contains { sig in
            let given = Array(sig.utf8)
            // Constant-time comparison: a timing difference must not reveal how much of a guess was right.
            guard given.count == expected.count else { return false }
            return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}

/// 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h after the failures (8 attempts in all), each with ±10 % jitter.
public struct RetrySchedule: Sendable {
    public static let delays: [TimeInterval] = [60, 300, 1800, 7200, 21_600, 43_200, 86_400]
    public static var maxAttempts: Int { delays.count + 1 }
    /// Tests shrink the schedule (0.001 turns a minute into 60 ms) without changing its shape.
    public var scale: Double

    public init(scale: Double = 1) { self.scale = scale }

    /// When to try again after `attempts` failed attempts, or nil when the delivery has run out of attempts.
    public func nextAttempt(after attempts: Int, from now: Date, jitter: Double = Double.random(in: -0.1...0.1)) -> Date? {
        guard attempts >= 1, attempts <= RetrySchedule.delays.count else { return nil }
        let base = RetrySchedule.delays[attempts - 1] * scale
        return now.addingTimeInterval(base * (1 + jitter))
    }
}
