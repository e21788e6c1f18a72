import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A receiver URL: http(s), a host, no credentials, at most 2,048 characters.
public struct WebhookURL: Sendable, Equatable {
    public let raw: String
    public let host: String

    public init(_ raw: String) throws {
        guard raw.count <= 2048, let c = URLComponents(string: raw), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = c.host, !host.isEmpty else {
            throw APIError.validation("url", "invalid_url", "url must be an absolute http or https URL.")
        }
        guard c.user == nil, c.password == nil else { throw APIError.validation("url", "invalid_url", "url must not carry credentials.") }
        self.raw = raw
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }
}

/// Which addresses a webhook may reach: never private, loopback, link-local or otherwise internal ones unless the operator allows it.
public enum AddressPolicy {
    /// True for addresses inside a private network or the machine itself (and for anything unparsable: refuse when unsure).
    public static func isInternal(_ address: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return isInternalV4(UInt32(bigEndian: v4.s_addr)) }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return true }
        let b = withUnsafeBytes(of: v6) { Array($0) }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return true }                                   // :: and ::1
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {                // ::ffff:a.b.c.d
            return isInternalV4(UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15]))
        }
        if b[0] == 0x00, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b {                             // 64:ff9b::/96 (NAT64)
            return isInternalV4(UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15]))
        }
        if b[0] & 0xfe == 0xfc { return true }                                                  // fc00::/7 unique local
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return true }                                  // fe80::/10 link-local
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return true }                                  // fec0::/10 site-local
        if b[0] == 0xff { return true }                                                         // multicast
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return true }               // documentation
        return false
    }

    static func isInternalV4(_ a: UInt32) -> Bool {
        func inNet(_ net: UInt32, _ bits: UInt32) -> Bool { a >> (32 - bits) == net >> (32 - bits) }
        return inNet(0x0000_0000, 8) || inNet(0x0A00_0000, 8) || inNet(0x6440_0000, 10) || inNet(0x7F00_0000, 8)
            || inNet(0xA9FE_0000, 16) || inNet(0xAC10_0000, 12) || inNet(0xC000_0000, 24) || inNet(0xC000_0200, 24)
            || inNet(0xC0A8_0000, 16) || inNet(0xC612_0000, 15) || inNet(0xC633_6400, 24) || inNet(0xCB00_7100, 24)
            || inNet(0xE000_0000, 4) || inNet(0xF000_0000, 4)
    }
}

/// Looks a host name up (the server's resolver does real DNS; tests may fake it).
public protocol HostResolver: Sendable {
    func addresses(of host: String) async throws -> [String]
}

public struct AddressRefused: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

extension AddressPolicy {
    /// Throws unless every address the URL's host resolves to is public (or private ones are allowed).
    public static func check(_ url: WebhookURL, resolver: any HostResolver, allowInternal: Bool) async throws {
        guard !allowInternal else { return }
        let addresses: [String]
        do {
            addresses = try await resolver.addresses(of: url.host)
        } catch {
            throw AddressRefused(message: "\(url.host) does not resolve.")
        }
        guard !addresses.isEmpty else { throw AddressRefused(message: "\(url.host) does not resolve.") }
        if let bad = addresses.first(where: isInternal) {
            throw AddressRefused(message: "\(url.host) resolves to \(bad), a private, loopback or link-local address.")
        }
    }
}
