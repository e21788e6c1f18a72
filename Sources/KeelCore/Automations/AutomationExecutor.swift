import Foundation
import Logging

/// Evaluates a run's conditions and carries out its actions, each action in its own transaction, as actor `automation`.
public struct AutomationExecutor: Sendable {
    let store: any Store
    let clock: any KeelClock
    /// Record services by object type (contact, company, deal, lead, task, product, note, activity).
    let services: [String: RecordService]
    let transport: any WebhookTransport
    let resolver: any HostResolver
    let policy: WebhookPolicy
    let logger: Logger

    public init(store: any Store, clock: any KeelClock, services: [String: RecordService], transport: any WebhookTransport,
                resolver: any HostResolver, policy: WebhookPolicy, logger: Logger) {
        self.store = store
        self.clock = clock
        self.services = services
        self.transport = transport
        self.resolver = resolver
        self.policy = policy
        self.logger = logger
    }

    // MARK: subjects

    func related(_ objectType: String, record: [String: JSONValue], ws: WorkspaceID, in tx: any StoreSession) async throws -> [String: JSONValue] {
        guard objectType == "deal", let stageID = record["stage_id"]?.stringValue, let s = try await tx.pipelines.stage(ws, id: stageID) else { return [:] }
        return ["stage": .object(["id": .string(s.id.rawValue), "name": .string(s.name), "type": .string(s.type.rawValue),
                                  "probability": .number(String(Double(s.probability) / 10_000))])]
    }

    /// The record as it is now (for hand-started and scheduled runs); nil when it is gone or hidden from `viewer`.
    public func currentSubject(_ ws: WorkspaceID, objectType: String, objectID: String, viewer: Principal? = nil) async throws -> AutomationSubject? {
        guard let service = services[objectType] else { return nil }
        let record: Record
        do {
            record = try await service.get(viewer ?? Principal.system(ws), id: objectID)
        } catch let e as APIError where e.kind == .notFound {
            return nil
        }
        guard case .object(let json) = service.render(record) else { return nil }
        let rel = try await store.read { try await related(objectType, record: json, ws: ws, in: $0) }
        let event = JSONValue.object(["id": .null, "type": .string("\(objectType).manual"), "workspace_id": .string(ws.rawValue),
                                      "data": .object(["object": .object(json), "previous": .object([:]), "changed_fields": .array([])])])
        return AutomationSubject(objectType: objectType, objectID: objectID, record: json, related: rel, event: event)
    }

    func eventSubject(_ run: AutomationRun, in tx: any StoreSession) async throws -> AutomationSubject? {
        guard let eid = run.eventID.flatMap(EventID.init), let e = try await tx.outbox.get(run.workspaceID, id: eid),
              case .object(let payload) = e.payload, case .object(let object)? = payload["object"] else { return nil }
        let previous = payload["previous"]?.objectValue ?? [:]
        var changed: [String] = []
        if case .array(let items)? = payload["changed_fields"] { changed = items.compactMap(\.stringValue) }
        return AutomationSubject(objectType: e.objectType, objectID: e.objectID, record: object, previous: previous, changedFields: changed,
                                 related: try await related(e.objectType, record: object, ws: run.workspaceID, in: tx), event: EventService.render(e))
    }

    func evaluator(_ a: Automation) async throws -> ConditionEvaluator {
        let tz = try await store.read { try await $0.identity.workspace(a.workspaceID) }.flatMap { TimeZone(identifier: $0.timezone) } ?? .gmt
        let schema = AutomationDefinition.schemas[a.trigger.objectType] ?? ContactBehavior.schema
        return ConditionEvaluator(now: clock.now(), timezone: tz, schema: schema)
    }

    // MARK: runs

    /// Starts and finishes a run by hand (`/run`, `/trigger`): the caller gets the finished run.
    public func startManual(_ a: Automation, subject: AutomationSubject) async throws -> AutomationRun {
        let now = clock.now()
        let run = AutomationRun(id: .generate(at: now), workspaceID: a.workspaceID, automationID: a.id, eventID: nil, source: .manual,
                                objectType: subject.objectType, objectID: subject.objectID, status: .running, causationDepth: 0, createdAt: now)
        try await store.write { try await $0.automations.insertRun(run) }
        return try await finish(run, automation: a, subject: subject)
    }

    /// Carries out a claimed run (from the dispatcher or the scheduler).
    public func execute(_ run: AutomationRun) async {
        do {
            guard let a = try await store.read({ try await $0.automations.get(run.workspaceID, id: run.automationID) }) else {
                try await close(run, status: .failed, actions: [], error: "The automation was deleted.")
                return
            }
            guard a.isActive else {
                try await close(run, status: .skipped, actions: [], error: "The automation was switched off before the run.")
                return
            }
            var subject: AutomationSubject?
            if run.eventID != nil {
                subject = try await store.read { try await eventSubject(run, in: $0) }
            } else if let type = run.objectType, let id = run.objectID {
                subject = try await currentSubject(run.workspaceID, objectType: type, objectID: id)
            }
            guard let subject else {
                try await close(run, status: .failed, actions: [], error: "The triggering record or event is gone.")
                return
            }
            _ = try await finish(run, automation: a, subject: subject)
        } catch {
            logger.warning("automation run failed to execute", metadata: ["run_id": .string(run.id.rawValue), "error": "\(error)"])
            _ = try? await close(run, status: .failed, actions: [], error: "Internal error while running.")
        }
    }

    @discardableResult
    func close(_ run: AutomationRun, status: AutomationRun.Status, actions: [AutomationRun.ActionResult], error: String?) async throws -> AutomationRun {
        var r = run
        r.status = status
        r.actions = actions
        r.error = error
        r.finishedAt = clock.now()
        let done = r
        try await store.write { try await $0.automations.updateRun(done) }
        return done
    }

    func finish(_ run: AutomationRun, automation a: Automation, subject: AutomationSubject) async throws -> AutomationRun {
        let evaluator = try await evaluator(a)
        guard evaluator.matches(a.trigger.conditions, subject) else {
            return try await close(run, status: .skipped, actions: a.actions.map { .init(type: $0.type.rawValue, status: .skipped) },
                                   error: "Conditions not met.")
        }
        var results: [AutomationRun.ActionResult] = []
        var failure: String?
        for action in a.actions {
            if failure != nil {
                results.append(.init(type: action.type.rawValue, status: .skipped))
                continue
            }
            do {
                let output = try await perform(action, automation: a, run: run, subject: subject)
                results.append(.init(type: action.type.rawValue, status: .completed, output: output))
            } catch {
                let message = (error as? APIError).map { e in ([e.message] + e.details.map { "\($0.field ?? ""): \($0.message)" }).joined(separator: " ") }
                    ?? "\(error)"
                failure = "\(action.type.rawValue) failed: \(message)"
                results.append(.init(type: action.type.rawValue, status: .failed, error: message))
            }
        }
        return try await close(run, status: failure == nil ? .completed : .failed, actions: results, error: failure)
    }

    // MARK: actions

    func principal(_ a: Automation, run: AutomationRun) -> Principal {
        Principal.system(a.workspaceID, as: a.createdBy, credential: .automation(id: a.id.rawValue), depth: run.causationDepth + 1)
    }

    /// The action's config with `{{record.field}}` placeholders filled in.
    static func rendered(_ config: [String: JSONValue], _ subject: AutomationSubject) -> [String: JSONValue] {
        config.mapValues { v in
            if case .string(let s) = v { return .string(AutomationTemplate.render(s, subject)) }
            return v
        }
    }

    func perform(_ action: AutomationAction, automation a: Automation, run: AutomationRun, subject: AutomationSubject) async throws -> JSONValue? {
        let p = principal(a, run: run)
        let config = AutomationExecutor.rendered(action.config, subject)
        let now = clock.now()
        let meta = RequestMeta(requestID: run.id.rawValue)
        guard let service = services[subject.objectType] else { throw APIError.validation("object_type", "not_applicable", "No such record type.") }
        func patch(_ body: [String: JSONValue]) async throws -> JSONValue {
            let r = try await store.write { tx in
                try await service.modify(p, id: subject.objectID, body: body, ifMatch: nil, source: .automation, meta: meta, at: now, in: tx)
            }
            return .object(["id": .string(r.id), "version": .number(String(r.version))])
        }
        switch action.type {
        case .updateField:
            let field = config["field"]?.stringValue ?? ""
            let value = config["value"] ?? .null
            if field.hasPrefix("custom_fields.") { return try await patch(["custom_fields": .object([String(field.dropFirst(14)): value])]) }
            return try await patch([field: value])
        case .addTags:
            return try await patch(["add_tags": config["tags"] ?? .array([])])
        case .removeTags:
            return try await patch(["remove_tags": config["tags"] ?? .array([])])
        case .moveStage:
            return try await patch(["stage_id": config["stage_id"] ?? .null])
        case .assignOwner:
            let field = subject.objectType == "task" ? "assignee_id" : "owner_id"
            if let user = config["user_id"] { return try await patch([field: user]) }
            let user = try await store.write { tx -> String in
                var candidates: [String] = []
                if case .array(let ids)? = config["user_ids"] {
                    candidates = ids.compactMap(\.stringValue)
                } else {
                    candidates = try await tx.identity.members(a.workspaceID, role: nil, before: nil, limit: 500).map(\.member.userID.rawValue).sorted()
                }
                guard !candidates.isEmpty else { throw APIError.conflict("No members to assign to.") }
                let turn = try await tx.automations.nextRoundRobin(a.workspaceID, id: a.id)
                let chosen = candidates[turn % candidates.count]
                _ = try await service.modify(p, id: subject.objectID, body: [field: .string(chosen)], ifMatch: nil, source: .automation, meta: meta,
                                             at: now, in: tx)
                return chosen
            }
            return .object([field: .string(user)])
        case .createTask:
            guard let tasks = services["task"] else { return nil }
            var body: [String: JSONValue] = ["title": config["title"] ?? .string("Follow up"),
                                             "related_to": .object(["type": .string(subject.objectType), "id": .string(subject.objectID)])]
            if let d = config["description"] { body["description"] = d }
            if let pr = config["priority"] { body["priority"] = pr }
            if let u = config["assignee_id"] { body["assignee_id"] = u }
            if case .number(let n)? = config["due_in_days"], let days = Int(n) {
                body["due_at"] = .string(Timestamp.format(now.addingTimeInterval(Double(days) * 86_400)))
            }
            let taskBody = body
            let task = try await store.write { tx in try await tasks.insert(p, body: taskBody, source: .automation, meta: meta, at: now, in: tx) }
            return .object(["task_id": .string(task.id)])
        case .createNote:
            guard let notes = services["note"] else { return nil }
            let body: [String: JSONValue] = ["body": config["body"] ?? .string(""), "related_type": .string(subject.objectType),
                                             "related_id": .string(subject.objectID)]
            let note = try await store.write { tx in try await notes.insert(p, body: body, source: .automation, meta: meta, at: now, in: tx) }
            return .object(["note_id": .string(note.id)])
        case .sendEmail:
            guard let to = config["to"]?.stringValue.flatMap(Normalize.email) else {
                throw APIError.validation("to", "invalid_value", "to is not an e-mail address (after filling placeholders).")
            }
            let message = MailMessage(id: .generate(at: now), workspaceID: a.workspaceID, to: to, subject: config["subject"]?.stringValue ?? "",
                                      body: config["body"]?.stringValue ?? "", createdAt: now)
            try await store.write { try await $0.mail.enqueue(message) }
            return .object(["mail_id": .string(message.id.rawValue)])
        case .sendWebhook:
            let url = try WebhookURL(config["url"]?.stringValue ?? "")
            do {
                try await AddressPolicy.check(url, resolver: resolver, allowInternal: policy.allowInternal)
            } catch let e as AddressRefused {
                throw APIError.validation("url", "private_address", e.message)
            }
            let body = (subject.event ?? .object(["data": .object(["object": .object(subject.record)])])).jsonString()
            let eventID = subject.event?.objectValue?["id"]?.stringValue ?? run.id.rawValue
            let eventType = subject.event?.objectValue?["type"]?.stringValue ?? "\(subject.objectType).manual"
            let outcome = await transport.post(OutgoingRequest(url: url.raw, headers: [
                ("Content-Type", "application/json"), ("User-Agent", "Keel-Automations/1"), ("Keel-Event-Id", eventID),
                ("Keel-Event-Type", eventType), ("Keel-Automation-Id", a.id.rawValue), ("Keel-Run-Id", run.id.rawValue),
            ], body: body, timeout: policy.timeout))
            guard outcome.succeeded else {
                throw APIError.conflict("The receiver answered \(outcome.statusCode.map(String.init) ?? outcome.error ?? "nothing").")
            }
            return .object(["status_code": .number(String(outcome.statusCode ?? 0))])
        }
    }

    /// What the automation would do with this record, changing nothing.
    public func dryRun(_ a: Automation, subject: AutomationSubject) async throws -> JSONValue {
        let evaluator = try await evaluator(a)
        let conditions: [JSONValue] = a.trigger.conditions.map { c in
            .object(["field": .string(c.field), "op": .string(c.op.rawValue), "value": c.value, "actual": subject.value(at: c.field) ?? .null,
                     "matched": .bool(evaluator.matches(c, subject))])
        }
        let matched = evaluator.matches(a.trigger.conditions, subject)
        return .object([
            "automation_id": .string(a.id.rawValue), "object_type": .string(subject.objectType), "object_id": .string(subject.objectID),
            "dry_run": .bool(true), "matched": .bool(matched), "conditions": .array(conditions),
            "actions": .array(a.actions.map { action in
                .object(["type": .string(action.type.rawValue), "status": .string(matched ? "would_run" : "skipped"),
                         "config": .object(AutomationExecutor.rendered(action.config, subject))])
            }),
        ])
    }
}
