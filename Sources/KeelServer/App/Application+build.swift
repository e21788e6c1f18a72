import Foundation
import Hummingbird
import KeelCore
import KeelStorage
import Logging
import ServiceLifecycle

public enum KeelServer {
    /// The first-run banner and similar one-time output go through this, so the CLI prints and tests capture.
    public typealias Announce = @Sendable (String) -> Void

    public static func makeLogger(_ config: KeelConfig, label: String = "keel") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = config.logLevel
        return logger
    }

    /// Opens and migrates the database; on an empty one (and `KEEL_BOOTSTRAP`), creates the first owner under the migration lock.
    public static func prepareDatabase(_ config: KeelConfig, logger: Logger, announce: @escaping Announce) async throws -> KeelDatabase {
        let database = try await KeelDatabase.open(config.database, logger: logger)
        do {
            try await Migrator(database: database).migrate(logger: logger) {
                let secret = try await signingSecret(config, database: database)
                guard config.bootstrap else { return }
                let auth = try await makeAuthService(config, database: database, secret: secret)
                let email = config.adminEmail ?? "admin@keel.local"
                if let result = try await auth.bootstrap(email: email, password: config.adminPassword, name: "Owner", workspaceName: "My Workspace",
                                                         onlyIfEmpty: true) {
                    announce(Banner.render(result, config: config, passwordWasGenerated: config.adminPassword == nil))
                }
            }
        } catch {
            await database.shutdown()
            throw error
        }
        return database
    }

    static func signingSecret(_ config: KeelConfig, database: KeelDatabase) async throws -> String {
        if let s = config.jwtSecret { return s }
        return try await database.write { try await $0.settings.insertIfAbsent("jwt_secret", value: SecureToken.random(bytes: 48)) }
    }

    static func policy(_ config: KeelConfig, secret: String) -> IdentityPolicy {
        var policy = IdentityPolicy()
        policy.openSignup = config.openSignup
        policy.publicBaseURL = config.baseURL
        policy.signingSecret = secret
        return policy
    }

    static func makeAuthService(_ config: KeelConfig, database: KeelDatabase, secret: String) async throws -> AuthService {
        let hasher = BcryptHasher(cost: UInt8(config.bcryptCost))
        let decoy = try await hasher.hash(SecureToken.random(bytes: 12))
        return AuthService(store: database, hasher: hasher, tokens: await JWTCodec.make(secret: secret), clock: SystemClock(),
                           policy: policy(config, secret: secret), decoyHash: decoy)
    }

    /// Builds the HTTP application: database, services, middleware, routes and background workers.
    public static func buildApplication(_ config: KeelConfig, announce: @escaping Announce = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }) async throws -> some ApplicationProtocol {
        let logger = makeLogger(config)
        let database = try await prepareDatabase(config, logger: logger, announce: announce)
        let (router, services) = try await makeRouter(config, database: database, logger: logger)
        var workers: [any Service] = [DatabaseLifecycleService(database: database), TransportLifecycleService(transport: services.background.transport)]
        if config.workers {
            workers.append(MailDeliveryService(store: database, transport: LogMailTransport(logger: Logger(label: "keel.mail")),
                                                      clock: services.clock, logger: logger, interval: .seconds(1)))
            let b = services.background
            workers.append(BackgroundWorkers(dispatcher: b.dispatcher, sender: b.sender, runner: b.runner, scheduler: b.scheduler,
                                             poll: .milliseconds(config.workerPollMillis), schedulerInterval: .seconds(config.schedulerIntervalSeconds),
                                             purgeInterval: .seconds(config.purgeIntervalSeconds),
                                             logger: Logger(label: "keel.workers")))
        }
        return Application(router: router, configuration: .init(address: .hostname(config.host, port: config.port), serverName: "keel"),
                           services: workers, logger: logger)
    }

    static func makeRouter(_ config: KeelConfig, database: KeelDatabase, logger: Logger) async throws -> (Router<KeelContext>, AppServices) {
        let secret = try await signingSecret(config, database: database)
        let clock = SystemClock()
        let hasher = BcryptHasher(cost: UInt8(config.bcryptCost))
        let tokens = await JWTCodec.make(secret: secret)
        let policy = policy(config, secret: secret)
        let cursors = CursorCodec(secret: secret)
        let auth = AuthService(store: database, hasher: hasher, tokens: tokens, clock: clock, policy: policy,
                               decoyHash: try await hasher.hash(SecureToken.random(bytes: 12)))
        let metrics = HTTPMetrics()
        let router = Router(context: KeelContext.self)
        let api = APIRouter(router: router)
        let routeBox = api
        let tableProvider: @Sendable () -> RouteTable = { [table = TableHolder(routeBox)] in table.table }
        router.add(middleware: ObservabilityMiddleware(metrics: metrics, routes: tableProvider))
        router.add(middleware: BodyLimitMiddleware(limit: config.jsonBodyLimit))
        let resolver = CredentialResolver(store: database, tokens: tokens, clock: clock)
        let cache = CredentialCache(ttl: config.credentialCacheSeconds)
        router.add(middleware: AuthMiddleware(resolver: resolver, cache: cache))
        SystemController.registerMetrics(on: router, metrics: metrics)
        SystemController().register(on: api)
        AuthController().register(on: api)
        WorkspaceController().register(on: api)
        MembersController().register(on: api)
        InvitationsController().register(on: api)
        APIKeysController().register(on: api)
        AuditController().register(on: api)
        let contactBehavior = ContactBehavior(), companyBehavior = CompanyBehavior(), dealBehavior = DealBehavior(), productBehavior = ProductBehavior()
        let leadBehavior = LeadBehavior()
        let parents: [any ObjectBehavior] = [contactBehavior, companyBehavior, dealBehavior, leadBehavior]
        let noteBehavior = NoteBehavior(parents: parents)
        let taskBehavior = TaskBehavior(parents: parents)
        let activityBehavior = ActivityBehavior(parents: parents)
        let timeline: [any TimelineSource] = [RelatedRecordsSource(behavior: noteBehavior, itemType: "note"),
                                              RelatedRecordsSource(behavior: taskBehavior, itemType: "task"),
                                              ActivitiesSource(behavior: activityBehavior), StageMovesSource()]
        func service(_ b: any ObjectBehavior, withTimeline: Bool) -> RecordService {
            RecordService(behavior: b, store: database, clock: clock, cursors: cursors, notes: withTimeline ? noteBehavior : nil,
                          timeline: withTimeline ? timeline : [])
        }
        let contacts = service(contactBehavior, withTimeline: true)
        let companies = service(companyBehavior, withTimeline: true)
        let deals = service(dealBehavior, withTimeline: true)
        let leads = service(leadBehavior, withTimeline: true)
        let notes = service(noteBehavior, withTimeline: false)
        let products = service(productBehavior, withTimeline: false)
        let tasks = service(taskBehavior, withTimeline: false)
        let activities = service(activityBehavior, withTimeline: false)
        let pipelines = PipelineService(store: database, clock: clock, deals: deals)
        let lineItems = LineItemService(store: database, clock: clock, deals: deals)
        let children = CRMChildrenLinker()
        ContactsController(routes: RecordRoutes(contacts), linkers: [children]).register(on: api)
        CompaniesController(routes: RecordRoutes(companies), contacts: contacts, linkers: [CompanyContactsLinker(), children]).register(on: api)
        NotesController(routes: RecordRoutes(notes)).register(on: api)
        CustomFieldsController().register(on: api)
        PipelinesController(service: pipelines).register(on: api)
        DealsController(routes: RecordRoutes(deals), pipelines: pipelines, lineItems: lineItems).register(on: api)
        DealScoreRoute(scorer: DealScorer(store: database, clock: clock, deals: deals), routes: RecordRoutes(deals)).register(on: api)
        ProductsController(routes: RecordRoutes(products)).register(on: api)
        LeadsController(routes: RecordRoutes(leads), conversion: LeadConversion(store: database, clock: clock, leads: leads, contacts: contacts,
                                                                                companies: companies, deals: deals)).register(on: api)
        TasksController(routes: RecordRoutes(tasks)).register(on: api)
        ActivitiesController(routes: RecordRoutes(activities)).register(on: api)
        EventsController(service: EventService(store: database, clock: clock, cursors: cursors)).register(on: api)
        let background = try makeBackground(config, database: database, clock: clock, logger: logger,
                                            services: ["contact": contacts, "company": companies, "deal": deals, "lead": leads, "task": tasks,
                                                       "product": products, "note": notes, "activity": activities])
        WebhooksController(service: WebhookService(store: database, clock: clock, cursors: cursors, resolver: background.resolver,
                                                   policy: background.policy), clock: clock).register(on: api)
        AutomationsController(service: AutomationService(store: database, clock: clock, cursors: cursors, executor: background.executor)).register(on: api)
        SearchController(search: GlobalSearch(services: ["contact": contacts, "company": companies, "deal": deals, "lead": leads])).register(on: api)
        let status = { (values: [String]) in
            FilterNode.compare(.column(name: "status", column: "status", lower: nil, family: .text, caseInsensitive: false), .in, values.map(BoundValue.text))
        }
        let reassigners: [any OwnershipReassigner] = [
            OpenRecordsReassigner(behavior: contactBehavior, column: "owner_id", openFilter: nil),
            OpenRecordsReassigner(behavior: companyBehavior, column: "owner_id", openFilter: nil),
            OpenRecordsReassigner(behavior: dealBehavior, column: "owner_id", openFilter: status(["open"])),
            OpenRecordsReassigner(behavior: leadBehavior, column: "owner_id", openFilter: status(["new", "working", "qualified"])),
            OpenRecordsReassigner(behavior: taskBehavior, column: "assignee_id", openFilter: status(["pending", "in_progress"])),
        ]
                let taggable: [ObjectSchema] = [ContactBehavior.schema, CompanyBehavior.schema, DealBehavior.schema, LeadBehavior.schema, ProductBehavior.schema]
        let tagTables: [(type: String, table: String, hasVisibility: Bool)] = taggable.map { (type: $0.type, table: $0.table, hasVisibility: $0.hasOwner) }
        let services = AppServices(
            config: config, database: database, clock: clock, cursors: cursors, auth: auth,
            workspaces: WorkspaceService(store: database, hasher: hasher, clock: clock, policy: policy),
            members: MemberService(store: database, clock: clock, cursors: cursors, reassigners: reassigners),
            invitations: InvitationService(store: database, clock: clock, policy: policy, cursors: cursors, hasher: hasher, auth: auth),
            apiKeys: APIKeyService(store: database, clock: clock, cursors: cursors),
            audit: AuditService(store: database, cursors: cursors),
            contacts: contacts, companies: companies, notes: notes, deals: deals, products: products, pipelines: pipelines, lineItems: lineItems,
            leads: leads, tasks: tasks, activities: activities,
            customFields: CustomFieldService(store: database, clock: clock, tables: ["contact": "contacts", "company": "companies", "deal": "deals", "product": "products", "lead": "leads"]),
            tags: TagService(store: database, objects: tagTables),
            registry: [.contact: contactBehavior, .company: companyBehavior, .note: noteBehavior, .deal: dealBehavior, .product: productBehavior,
                       .lead: leadBehavior, .task: taskBehavior, .activity: activityBehavior],
            resolver: resolver, credentialCache: cache,
            limiter: RateLimiter(ratePerSecond: Double(config.rateLimitRPS), burst: config.rateLimitBurst),
            loginLimiter: RateLimiter(ratePerSecond: Double(config.loginAttemptsPerMinute) / 60, burst: config.loginAttemptsPerMinute),
            metrics: metrics, routes: api.table, openAPI: try OpenAPIDocument.load(), logger: logger, background: background)
        api.attach(services)
        return (router, services)
    }

    static func makeBackground(_ config: KeelConfig, database: KeelDatabase, clock: any KeelClock, logger: Logger,
                               services: [String: RecordService]) throws -> Background {
        let policy = WebhookPolicy(allowInternal: config.webhooksAllowPrivate, timeout: Double(config.webhookTimeoutMillis) / 1000,
                                   retries: RetrySchedule(scale: config.webhookRetryScale))
        let transport = HTTPWebhookTransport(timeoutMillis: config.webhookTimeoutMillis)
        let resolver = SystemHostResolver()
        let workerLogger = Logger(label: "keel.workers")
        let executor = AutomationExecutor(store: database, clock: clock, services: services, transport: transport, resolver: resolver, policy: policy,
                                          logger: workerLogger)
        return Background(policy: policy, transport: transport, resolver: resolver, executor: executor,
                          dispatcher: OutboxDispatcher(store: database, clock: clock),
                          sender: WebhookSender(store: database, clock: clock, transport: transport, resolver: resolver, policy: policy, logger: workerLogger),
                          runner: AutomationRunner(store: database, clock: clock, executor: executor),
                          scheduler: try Scheduler(store: database, clock: clock, services: services, logger: workerLogger))
    }

    /// The routes the server registers, for the contract test and `keel openapi --check`.
    public static func registeredOperations(_ config: KeelConfig) async throws -> Set<String> {
        let logger = makeLogger(config)
        let database = try await KeelDatabase.open(config.database, logger: logger)
        defer { Task { await database.shutdown() } }
        try await Migrator(database: database).migrate(logger: logger)
        let (_, services) = try await makeRouter(config, database: database, logger: logger)
        return Set(services.routes.entries.map { "\($0.method.rawValue) \($0.path)" })
    }

    public static func openAPIYAML() throws -> String { try OpenAPIDocument.load().yaml }
    public static func openAPIJSON() throws -> String { String(decoding: try OpenAPIDocument.load().json, as: UTF8.self) }
    public static func documentedOperations() throws -> Set<String> { try OpenAPIDocument.load().operations() }
}

/// Lets the 405 check read the finished route table without capturing the mutable router.
final class TableHolder: @unchecked Sendable {
    private let api: APIRouter
    init(_ api: APIRouter) { self.api = api }
    var table: RouteTable { api.table }
}
