import AsyncHTTPClient
import Foundation
import KeelCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// POSTs through AsyncHTTPClient with redirects off; reads at most 2 KB of the answer.
final class HTTPWebhookTransport: WebhookTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var created: HTTPClient?
    private let timeoutMillis: Int

    init(timeoutMillis: Int) {
        self.timeoutMillis = timeoutMillis
    }

    /// Made on first use, so an application that never sends (a route listing, a CLI command) has nothing to shut down.
    var client: HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        if let created { return created }
        var config = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                              timeout: .init(connect: .milliseconds(Int64(timeoutMillis)), read: .milliseconds(Int64(timeoutMillis))))
        config.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: config)
        created = client
        return client
    }

    private func take() -> HTTPClient? {
        lock.withLock {
            let client = created
            created = nil
            return client
        }
    }

    func shutdown() async {
        try? await take()?.shutdown()
    }

    func post(_ r: OutgoingRequest) async -> TransportOutcome {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let d = ContinuousClock.now - started
            return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }
        var request = HTTPClientRequest(url: r.url)
        request.method = .POST
        for (name, value) in r.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: r.body))
        do {
            let response = try await client.execute(request, deadline: .now() + .milliseconds(Int64(r.timeout * 1000)))
            var collected = ByteBuffer()
            for try await chunk in response.body {
                var chunk = chunk
                let room = TransportOutcome.snippetLimit - collected.readableBytes
                if room > 0, let bytes = chunk.readBytes(length: min(room, chunk.readableBytes)) { collected.writeBytes(bytes) }
                if collected.readableBytes >= TransportOutcome.snippetLimit { break }
            }
            let snippet = String(decoding: collected.readableBytesView, as: UTF8.self)
            return TransportOutcome(statusCode: Int(response.status.code), snippet: snippet, error: nil, durationMillis: elapsed())
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            return TransportOutcome(statusCode: nil, snippet: nil, error: "timeout after \(Int(r.timeout * 1000)) ms", durationMillis: elapsed())
        } catch {
            return TransportOutcome(statusCode: nil, snippet: nil, error: Self.describe(error), durationMillis: elapsed())
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        return String(text.prefix(300))
    }
}

/// Real DNS through getaddrinfo, off the event loops.
struct SystemHostResolver: HostResolver {
    func addresses(of host: String) async throws -> [String] {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 { return [host] }
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0 else { throw AddressRefused(message: "\(host) does not resolve.") }
            defer { freeaddrinfo(result) }
            var out: [String] = []
            var cursor = result
            while let info = cursor?.pointee {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if let addr = info.ai_addr, getnameinfo(addr, info.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !out.contains(text) { out.append(text) }
                }
                cursor = info.ai_next
            }
            return out
        }
    }
}
