import Foundation

public struct OutgoingRequest: Sendable {
    public var url: String
    public var headers: [(String, String)]
    public var body: String
    public var timeout: TimeInterval

    public init(url: String, headers: [(String, String)], body: String, timeout: TimeInterval) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// What came back: a status and the first 2 KB of the body, or why nothing came back.
public struct TransportOutcome: Sendable, Equatable {
    public var statusCode: Int?
    public var snippet: String?
    public var error: String?
    public var durationMillis: Int

    public init(statusCode: Int?, snippet: String?, error: String?, durationMillis: Int) {
        self.statusCode = statusCode
        self.snippet = snippet
        self.error = error
        self.durationMillis = durationMillis
    }

    public var succeeded: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
    public static let snippetLimit = 2048
}

/// POSTs one request without following redirects (the server's implementation uses AsyncHTTPClient).
public protocol WebhookTransport: Sendable {
    func post(_ request: OutgoingRequest) async -> TransportOutcome
}
