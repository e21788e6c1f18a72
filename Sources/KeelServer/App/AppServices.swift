import Foundation
import KeelCore
import KeelStorage
import Logging
import Prometheus

/// Everything the routes need, built once per application.
struct AppServices: Sendable {
    let config: KeelConfig
    let database: KeelDatabase
    let clock: any KeelClock
    let cursors: CursorCodec
    let auth: AuthService
    let workspaces: WorkspaceService
    let members: MemberService
    let invitations: InvitationService
    let apiKeys: APIKeyService
    let audit: AuditService
    let contacts: RecordService
    let companies: RecordService
    let notes: RecordService
    let deals: RecordService
    let products: RecordService
    let pipelines: PipelineService
    let lineItems: LineItemService
    let leads: RecordService
    let tasks: RecordService
    let activities: RecordService
    let customFields: CustomFieldService
    let tags: TagService
    /// Behaviors by id prefix, for `expand=`.
    let registry: [IDPrefix: any ObjectBehavior]
    let resolver: CredentialResolver
    let credentialCache: CredentialCache
    let limiter: RateLimiter
    let loginLimiter: RateLimiter
    let metrics: HTTPMetrics
    let routes: RouteTable
    let openAPI: OpenAPIDocument
    let logger: Logger
    let background: Background
}

/// The outbox dispatcher, webhook sender, automation runner and scheduler, with what they share.
struct Background: Sendable {
    let policy: WebhookPolicy
    let transport: HTTPWebhookTransport
    let resolver: any HostResolver
    let executor: AutomationExecutor
    let dispatcher: OutboxDispatcher
    let sender: WebhookSender
    let runner: AutomationRunner
    let scheduler: Scheduler
}
