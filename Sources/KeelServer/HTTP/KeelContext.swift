import Hummingbird
import KeelCore
import NIOConcurrencyHelpers
import NIOCore

/// What outer middleware (logs, metrics) learns from inner layers, shared by reference for one request.
final class RequestScratch: Sendable {
    private let box = NIOLockedValueBox<(workspaceID: String?, principalKey: String?)>((nil, nil))
    var workspaceID: String? { box.withLockedValue { $0.workspaceID } }
    func record(_ p: Principal) { box.withLockedValue { $0 = (p.workspaceID.rawValue, p.credentialKey) } }
}

public struct KeelContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    var requestID = ""
    var principal: Principal?
    let scratch = RequestScratch()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are collected by the endpoint wrapper with its own limits.
    public var maxUploadSize: Int { Int.max }

    var clientIP: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
