import Foundation
import KeelCore
import KeelStorage
import Logging
import Prometheus

/// Everything the routes need, built once per application. A class: every request carries it (in `APIRequest` and the
/// handlers' captures), and as a struct every copy retained some sixty references one by one.
final class AppServices: Sendable {
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

    init(config: KeelConfig, database: KeelDatabase, clock: any KeelClock, cursors: CursorCodec, auth: AuthService,
         workspaces: WorkspaceService, members: MemberService, invitations: InvitationService, apiKeys: APIKeyService, audit: AuditService,
         contacts: RecordService, companies: RecordService, notes: RecordService, deals: RecordService, products: RecordService,
         pipelines: PipelineService, lineItems: LineItemService, leads: RecordService, tasks: RecordService, activities: RecordService,
         customFields: CustomFieldService, tags: TagService, registry: [IDPrefix: any ObjectBehavior], resolver: CredentialResolver,
         credentialCache: CredentialCache, limiter: RateLimiter, loginLimiter: RateLimiter, metrics: HTTPMetrics, routes: RouteTable,
         openAPI: OpenAPIDocument, logger: Logger, background: Background) {
        self.config = config
        self.database = database
        self.clock = clock
        self.cursors = cursors
        self.auth = auth
        self.workspaces = workspaces
        self.members = members
        self.invitations = invitations
        self.apiKeys = apiKeys
        self.audit = audit
        self.contacts = contacts
        self.companies = companies
        self.notes = notes
        self.deals = deals
        self.products = products
        self.pipelines = pipelines
        self.lineItems = lineItems
        self.leads = leads
        self.tasks = tasks
        self.activities = activities
        self.customFields = customFields
        self.tags = tags
        self.registry = registry
        self.resolver = resolver
        self.credentialCache = credentialCache
        self.limiter = limiter
        self.loginLimiter = loginLimiter
        self.metrics = metrics
        self.routes = routes
        self.openAPI = openAPI
        self.logger = logger
        self.background = background
    }
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
