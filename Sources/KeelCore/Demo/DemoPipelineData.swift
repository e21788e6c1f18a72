import Foundation

extension DemoData {
    static let dealWords = ["Expansion", "Renewal", "Pilot", "Rollout", "Upgrade", "Migration", "Onboarding", "Enterprise plan", "Add-on", "Support contract"]
    static let leadSources = LeadBehavior.sources.filter { $0 != "import" }

    public mutating func lead(_ i: Int) -> Record {
        let created = when()
        let first = pick(DemoData.firstNames), last = pick(DemoData.lastNames)
        let status = pick(["new", "new", "working", "working", "qualified", "disqualified"])
        return Record(id: "lead_\(ULID.make(at: created))", workspaceID: workspaceID,
                      values: ["name": .string("\(first) \(last)"), "email": .string("\(first.lowercased()).\(i)@lead.example"),
                               "phone": .string("+1555" + DemoData.zeroPadded(i % 10_000_000, 7)),
                               "company_name": .string("\(pick(DemoData.companyWords)) \(pick(DemoData.companySuffixes))"),
                               "title": .string(pick(DemoData.titles)), "source": .string(pick(DemoData.leadSources)), "status": .string(status),
                               "owner_id": .string(pick(owners).rawValue), "visibility": .string("workspace"),
                               "value": .number(String(Int(rng.next() % 50_000) + 500))],
                      tags: [], customFields: [:], createdAt: created, updatedAt: created, createdBy: owners.first, version: 1)
    }

    /// A deal somewhere in a pipeline, with the stage move that brought it there and possibly line items.
    public mutating func deal(pipeline: Pipeline, stages: [Stage], contactIDs: [String], companyIDs: [String]) -> (Record, StageMove, [LineItem], String?) {
        let created = when()
        let stage = pick(stages)
        let entered = created.addingTimeInterval(Double(rng.next() % UInt64(max(1, now.timeIntervalSince(created)))))
        let contact = contactIDs.isEmpty ? nil : pick(contactIDs)
        let id = "deal_\(ULID.make(at: created))"
        var items: [LineItem] = []
        var value = Int64(rng.next() % 200_000 + 1_000) * 100
        if chance(0.2) {
            let n = Int(rng.next() % 3) + 1
            for p in 0..<n {
                let qty = Int64(rng.next() % 20 + 1) * 10_000
                let price = Int64(rng.next() % 5_000 + 100) * 100
                let discount = chance(0.3) ? Int64(rng.next() % 20) * 100 : 0
                let total = LineItem.total(quantity: qty, unitPrice: price, discount: discount)
                items.append(LineItem(id: "li_\(ULID.make(at: created))", workspaceID: workspaceID, dealID: id, productID: nil,
                                      name: pick(["Seats", "Setup", "Support", "Training", "Licence"]), quantity: qty, unitPrice: price,
                                      discount: discount, total: total, position: p, createdAt: created, updatedAt: created, version: 1))
            }
            value = items.reduce(0) { $0 + $1.total }
        }
        let close = now.addingTimeInterval(Double(Int64(rng.next() % (200 * 86_400)) - 60 * 86_400))
        var values: [String: JSONValue] = [
            "name": .string("\(pick(DemoData.dealWords)) \(pick(DemoData.companyWords))"), "pipeline_id": .string(pipeline.id.rawValue),
            "stage_id": .string(stage.id.rawValue), "status": .string(stage.type.rawValue), "currency": .string(pipeline.currency),
            "value": .number(Money.format(value, currency: pipeline.currency)), "probability": .number(Probability.format(stage.probability)),
            "probability_overridden": .bool(false), "expected_close_date": .string(String(Timestamp.format(close).prefix(10))),
            "closed_at": stage.type == .open ? .null : .string(Timestamp.format(entered)),
            "lost_reason": stage.type == .lost ? .string(pick(["Price", "Timing", "Competitor", "No budget"])) : .null,
            "owner_id": .string(pick(owners).rawValue), "visibility": .string(chance(0.05) ? "private" : "workspace"),
            "company_id": companyIDs.isEmpty ? .null : .string(pick(companyIDs)),
            "contacts": .array(contact.map { [.object(["contact_id": .string($0), "role": .null])] } ?? []),
            "source": .string(pick(DemoData.sources)), "stage_entered_at": .string(Timestamp.format(entered)),
        ]
        values["last_activity_at"] = .null
        let record = Record(id: id, workspaceID: workspaceID, values: values, tags: chance(0.2) ? [pick(DemoData.tagPool)] : [], customFields: [:],
                            createdAt: created, updatedAt: entered, createdBy: owners.first, version: 2)
        let first = stages.first { $0.type == .open } ?? stage
        let move = StageMove(id: "smv_\(ULID.make(at: entered))", workspaceID: workspaceID, dealID: id, fromStageID: first.id.rawValue,
                             toStageID: stage.id.rawValue, movedAt: entered, movedBy: ActorRef(type: .user, id: owners.first?.rawValue),
                             timeInPreviousStageSeconds: Int(entered.timeIntervalSince(created)))
        return (record, move, items, contact)
    }

    public mutating func task(relatedType: String, relatedID: String) -> Record {
        let created = when()
        let due = created.addingTimeInterval(Double(rng.next() % (30 * 86_400)))
        let status = due < now ? pick(["completed", "completed", "pending", "cancelled"]) : pick(["pending", "in_progress"])
        return Record(id: "task_\(ULID.make(at: created))", workspaceID: workspaceID,
                      values: ["title": .string(pick(["Call back", "Send proposal", "Book demo", "Check in", "Prepare contract"])),
                               "description": .null, "status": .string(status), "priority": .string(pick(TaskBehavior.priorities)),
                               "due_at": .string(Timestamp.format(due)), "assignee_id": .string(pick(owners).rawValue),
                               "related_type": .string(relatedType), "related_id": .string(relatedID),
                               "completed_at": status == "completed" ? .string(Timestamp.format(due)) : .null],
                      tags: [], customFields: [:], createdAt: created, updatedAt: created, createdBy: owners.first, version: 1)
    }

    public mutating func activity(related: [(String, String)]) -> Record {
        let occurred = when()
        return Record(id: "act_\(ULID.make(at: occurred))", workspaceID: workspaceID,
                      values: ["type": .string(pick(ActivityBehavior.types.map(\.0))), "subject": .string(pick(["Intro call", "Demo", "Follow-up", "Pricing", "Kick-off"])),
                               "body": .null, "occurred_at": .string(Timestamp.format(occurred)),
                               "duration_seconds": .number(String(rng.next() % 3600)), "outcome": .null, "direction": .string(pick(["inbound", "outbound"])),
                               "related_to": .array(related.map { .object(["type": .string($0.0), "id": .string($0.1)]) })],
                      tags: [], customFields: [:], createdAt: occurred, updatedAt: occurred, createdBy: pick(owners), version: 1)
    }
}
