import Foundation

/// A validated automation body: the checks that need no database (ids inside are checked by the service).
public struct AutomationDefinition: Sendable {
    public var name: String
    public var description: String?
    public var isActive: Bool
    public var trigger: AutomationTrigger
    public var actions: [AutomationAction]

    public static let maxConditions = 20
    public static let maxActions = 20
    /// Record types an automation can act on, with their schemas.
    public static let schemas: [String: ObjectSchema] = [
        "contact": ContactBehavior.schema, "company": CompanyBehavior.schema, "deal": DealBehavior.schema, "lead": LeadBehavior.schema,
        "task": TaskBehavior.schema, "product": ProductBehavior.schema, "note": NoteBehavior.schema, "activity": ActivityBehavior.schema,
    ]
    static let bodyKeys: Set<String> = ["name", "description", "is_active", "trigger", "actions", "version"]
    static let configKeys: [AutomationAction.Kind: (required: Set<String>, optional: Set<String>)] = [
        .createTask: (["title"], ["description", "priority", "due_in_days", "assignee_id"]),
        .updateField: (["field", "value"], []),
        .addTags: (["tags"], []),
        .removeTags: (["tags"], []),
        .assignOwner: ([], ["user_id", "strategy", "user_ids"]),
        .moveStage: (["stage_id"], []),
        .createNote: (["body"], []),
        .sendWebhook: (["url"], []),
        .sendEmail: (["to", "subject", "body"], []),
    ]

    static func fail(_ field: String, _ code: String, _ message: String) -> APIError { APIError.validation(field, code, message) }

    /// Parses a whole body (create) or a body laid over the current automation (PATCH).
    public static func parse(_ body: [String: JSONValue], over current: Automation? = nil, timezone: TimeZone, now: Date) throws -> AutomationDefinition {
        for key in body.keys where !bodyKeys.contains(key) { throw fail(key, "unknown_field", "Unknown field \(key).") }
        var name = current?.name
        if let v = body["name"] {
            guard case .string(let s) = v, !s.trimmingCharacters(in: .whitespaces).isEmpty, s.count <= 200 else {
                throw fail("name", "invalid_value", "name must be a non-empty string of at most 200 characters.")
            }
            name = s.trimmingCharacters(in: .whitespaces)
        }
        guard let name else { throw fail("name", "required", "name is required.") }
        var description = current?.description
        if let v = body["description"] {
            switch v {
            case .null: description = nil
            case .string(let s) where s.count <= 2000: description = s
            default: throw fail("description", "invalid_type", "description must be a string of at most 2000 characters.")
            }
        }
        var isActive = current?.isActive ?? false
        if let v = body["is_active"] {
            guard case .bool(let b) = v else { throw fail("is_active", "invalid_type", "is_active must be true or false.") }
            isActive = b
        }
        var trigger = current?.trigger
        if let v = body["trigger"] { trigger = try parseTrigger(v, timezone: timezone, now: now) }
        guard let trigger else { throw fail("trigger", "required", "trigger is required.") }
        var actions = current?.actions
        if let v = body["actions"] { actions = try parseActions(v, objectType: trigger.objectType) }
        guard let actions else { throw fail("actions", "required", "actions is required.") }
        // A new trigger may no longer fit the old actions (move_stage needs a deal).
        if body["trigger"] != nil, body["actions"] == nil { _ = try parseActions(.array(actions.map(\.json)), objectType: trigger.objectType) }
        return AutomationDefinition(name: name, description: description, isActive: isActive, trigger: trigger, actions: actions)
    }

    static func parseTrigger(_ v: JSONValue, timezone: TimeZone, now: Date) throws -> AutomationTrigger {
        guard case .object(let o) = v else { throw fail("trigger", "invalid_type", "trigger must be an object.") }
        for key in o.keys where !["event", "cron", "object_type", "conditions"].contains(key) {
            throw fail("trigger.\(key)", "unknown_field", "Unknown field trigger.\(key).")
        }
        guard case .string(let event)? = o["event"] else { throw fail("trigger.event", "required", "trigger.event is required.") }
        let objectType: String
        var cron: String?
        if event == "schedule" {
            guard case .string(let c)? = o["cron"] else { throw fail("trigger.cron", "required", "A schedule trigger needs cron (five fields).") }
            do {
                let schedule = try CronSchedule(c)
                guard schedule.next(after: now, in: timezone) != nil else { throw fail("trigger.cron", "invalid_value", "This cron expression never fires.") }
            } catch let e as CronSchedule.Invalid {
                throw fail("trigger.cron", "invalid_value", e.message)
            }
            cron = c
            guard case .string(let t)? = o["object_type"], schemas[t] != nil else {
                throw fail("trigger.object_type", "invalid_value", "A schedule trigger names object_type: \(schemas.keys.sorted().joined(separator: ", ")).")
            }
            objectType = t
        } else {
            guard EventCatalog.all.contains(where: { $0.type == event }), event != "webhook.test" else {
                throw fail("trigger.event", "invalid_value", "Unknown event type \(event); see GET /event-types, or use schedule.")
            }
            guard o["cron"] == nil || o["cron"] == .null else { throw fail("trigger.cron", "not_allowed", "cron belongs to schedule triggers.") }
            objectType = String(event.split(separator: ".").first ?? "")
            if let t = o["object_type"], t != .null, t != .string(objectType) {
                throw fail("trigger.object_type", "invalid_value", "\(event) is about a \(objectType).")
            }
        }
        var conditions: [AutomationCondition] = []
        if let c = o["conditions"], c != .null {
            guard case .array(let items) = c, items.count <= maxConditions else {
                throw fail("trigger.conditions", "invalid_type", "conditions must be an array of at most \(maxConditions).")
            }
            for (i, item) in items.enumerated() {
                conditions.append(try parseCondition(item, path: "trigger.conditions[\(i)]", objectType: objectType, schedule: event == "schedule",
                                                     timezone: timezone, now: now))
            }
        }
        return AutomationTrigger(event: event, cron: cron, objectType: objectType, conditions: conditions)
    }

    static func parseCondition(_ v: JSONValue, path: String, objectType: String, schedule: Bool, timezone: TimeZone, now: Date) throws -> AutomationCondition {
        guard case .object(let o) = v else { throw fail(path, "invalid_type", "A condition is {field, op, value}.") }
        for key in o.keys where !["field", "op", "value"].contains(key) { throw fail("\(path).\(key)", "unknown_field", "Unknown field \(key).") }
        guard case .string(let field)? = o["field"], !field.isEmpty else { throw fail("\(path).field", "required", "A condition needs a field.") }
        guard case .string(let opText)? = o["op"], let op = FilterOp(rawValue: opText) else {
            throw fail("\(path).op", "invalid_operator", "op must be one of the search operators.")
        }
        let value = o["value"] ?? .null
        let prefix = "\(objectType)."
        let onRecord = field.hasPrefix(prefix)
        guard onRecord || (!schedule && (field == "changed_fields" || field.hasPrefix("previous."))) else {
            throw fail("\(path).field", "invalid_field", schedule ? "Schedule conditions address \(prefix)<field>."
                                                                  : "Conditions address \(prefix)<field>, previous.<field> or changed_fields.")
        }
        let condition = AutomationCondition(field: field, op: op, value: value)
        if let schema = schemas[objectType], onRecord || field.hasPrefix("previous.") {
            let bare = String(field.drop(while: { $0 != "." }).dropFirst())
            // The record's own fields are checked the way search checks them; related paths (deal.stage.type) only by shape.
            if !bare.contains(".") || bare.hasPrefix("custom_fields.") {
                let parser = FilterParser(schema: schema, customFields: [], timezone: timezone, now: now, currency: "USD")
                do {
                    _ = try parser.parse(.object(["field": .string(bare), "op": .string(op.rawValue), "value": value]))
                } catch let e as APIError where !bare.hasPrefix("custom_fields.") {
                    let where_ = e.details.first?.field.map { $0.hasPrefix("filter") ? path + $0.dropFirst(6) : path } ?? path
                    throw fail(where_, e.details.first?.code ?? "invalid_value", e.details.first?.message ?? e.message)
                } catch {}
            } else if schedule {
                throw fail("\(path).field", "invalid_field", "Schedule conditions address the record's own fields.")
            } else {
                try checkShape(op, value, path: path)
            }
        } else {
            try checkShape(op, value, path: path)
        }
        return condition
    }

    static func checkShape(_ op: FilterOp, _ value: JSONValue, path: String) throws {
        switch op {
        case .isNull:
            guard case .bool = value else { throw fail("\(path).value", "invalid_type", "is_null takes true or false.") }
        case .in, .nin:
            guard case .array(let items) = value, !items.isEmpty, items.count <= 100 else {
                throw fail("\(path).value", "invalid_type", "\(op.rawValue) takes an array of 1 to 100 values.")
            }
        case .between:
            guard case .array(let items) = value, items.count == 2 else { throw fail("\(path).value", "invalid_type", "between takes [low, high].") }
        case .lastNDays, .nextNDays:
            guard case .number(let n) = value, let i = Int(n), (1...3650).contains(i) else {
                throw fail("\(path).value", "invalid_value", "\(op.rawValue) takes an integer from 1 to 3650.")
            }
        case .today, .thisWeek, .thisMonth, .thisQuarter:
            break
        case .eq, .neq, .lt, .lte, .gt, .gte, .contains, .startsWith:
            switch value {
            case .string, .number, .bool: break
            default: throw fail("\(path).value", "invalid_type", "\(op.rawValue) takes a string, number or boolean.")
            }
        }
    }

    static func parseActions(_ v: JSONValue, objectType: String) throws -> [AutomationAction] {
        guard case .array(let items) = v, !items.isEmpty, items.count <= maxActions else {
            throw fail("actions", "invalid_type", "actions must be an array of 1 to \(maxActions) actions.")
        }
        let schema = schemas[objectType]
        return try items.enumerated().map { i, item in
            let path = "actions[\(i)]"
            guard case .object(let o) = item else { throw fail(path, "invalid_type", "An action is {type, config}.") }
            for key in o.keys where !["type", "config"].contains(key) { throw fail("\(path).\(key)", "unknown_field", "Unknown field \(key).") }
            guard case .string(let t)? = o["type"], let kind = AutomationAction.Kind(rawValue: t) else {
                throw fail("\(path).type", "invalid_value", "type must be one of: \(AutomationAction.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            var config: [String: JSONValue] = [:]
            if let c = o["config"], c != .null {
                guard case .object(let co) = c else { throw fail("\(path).config", "invalid_type", "config must be an object.") }
                config = co
            }
            let keys = configKeys[kind] ?? ([], [])
            for key in config.keys where !keys.required.contains(key) && !keys.optional.contains(key) {
                throw fail("\(path).config.\(key)", "unknown_field", "\(t) does not take \(key).")
            }
            for key in keys.required where config[key] == nil { throw fail("\(path).config.\(key)", "required", "\(t) needs \(key).") }
            func string(_ key: String, max: Int = 10_000) throws -> String? {
                guard let v = config[key], v != .null else { return nil }
                guard case .string(let s) = v, !s.isEmpty, s.count <= max else {
                    throw fail("\(path).config.\(key)", "invalid_type", "\(key) must be a non-empty string.")
                }
                return s
            }
            let related = ["contact", "company", "deal", "lead"]
            switch kind {
            case .createTask:
                _ = try string("title", max: 500)
                _ = try string("description")
                if let p = try string("priority"), !TaskBehavior.priorities.contains(p) {
                    throw fail("\(path).config.priority", "invalid_value", "priority is one of \(TaskBehavior.priorities.joined(separator: ", ")).")
                }
                if let d = config["due_in_days"], d != .null {
                    guard case .number(let n) = d, let days = Int(n), (0...3650).contains(days) else {
                        throw fail("\(path).config.due_in_days", "invalid_value", "due_in_days is an integer from 0 to 3650.")
                    }
                }
                if let a = try string("assignee_id"), UserID(a) == nil { throw fail("\(path).config.assignee_id", "not_found", "assignee_id is not a user id.") }
                guard related.contains(objectType) else {
                    throw fail("\(path).type", "not_applicable", "create_task relates the task to a contact, company, deal or lead, not a \(objectType).")
                }
            case .createNote:
                _ = try string("body", max: 100_000)
                guard related.contains(objectType) else {
                    throw fail("\(path).type", "not_applicable", "create_note attaches to a contact, company, deal or lead, not a \(objectType).")
                }
            case .updateField:
                guard let field = try string("field", max: 200) else { throw fail("\(path).config.field", "required", "update_field needs field.") }
                let writable = schema?.fields.contains { $0.name == field && $0.writable } ?? false
                guard writable || (field.hasPrefix("custom_fields.") && schema?.hasCustomFields == true) else {
                    throw fail("\(path).config.field", "invalid_field", "\(field) is not a writable field of a \(objectType).")
                }
            case .addTags, .removeTags:
                guard case .array(let tags)? = config["tags"], !tags.isEmpty, tags.count <= 50, tags.allSatisfy({ ($0.stringValue?.isEmpty == false) }) else {
                    throw fail("\(path).config.tags", "invalid_type", "tags must be a non-empty array of strings.")
                }
                guard schema?.hasTags == true else { throw fail("\(path).type", "not_applicable", "A \(objectType) has no tags.") }
            case .assignOwner:
                guard schema?.hasOwner == true || objectType == "task" else {
                    throw fail("\(path).type", "not_applicable", "A \(objectType) has no owner.")
                }
                if let u = try string("user_id") {
                    guard UserID(u) != nil else { throw fail("\(path).config.user_id", "not_found", "user_id is not a user id.") }
                    guard config["strategy"] == nil, config["user_ids"] == nil else {
                        throw fail("\(path).config", "invalid_value", "Give either user_id or strategy round_robin.")
                    }
                } else {
                    guard try string("strategy") == "round_robin" else {
                        throw fail("\(path).config.strategy", "required", "assign_owner needs user_id or strategy: round_robin.")
                    }
                    if let ids = config["user_ids"], ids != .null {
                        guard case .array(let list) = ids, !list.isEmpty, list.count <= 100,
                              list.allSatisfy({ $0.stringValue.flatMap { UserID($0) } != nil }) else {
                            throw fail("\(path).config.user_ids", "invalid_type", "user_ids must be a non-empty array of user ids.")
                        }
                    }
                }
            case .moveStage:
                guard objectType == "deal" else { throw fail("\(path).type", "not_applicable", "move_stage applies to deals.") }
                guard let s = try string("stage_id"), s.hasPrefix("stg_") else { throw fail("\(path).config.stage_id", "not_found", "stage_id is not a stage id.") }
            case .sendWebhook:
                guard let u = try string("url", max: 2048) else { throw fail("\(path).config.url", "required", "send_webhook needs url.") }
                do { _ = try WebhookURL(u) } catch let e as APIError { throw fail("\(path).config.url", "invalid_url", e.message) }
            case .sendEmail:
                _ = try string("to", max: 320)
                _ = try string("subject", max: 500)
                _ = try string("body", max: 100_000)
            }
            return AutomationAction(type: kind, config: config)
        }
    }
}
