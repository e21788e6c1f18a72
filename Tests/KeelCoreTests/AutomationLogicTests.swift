import Foundation
import XCTest
@testable import KeelCore

final class AutomationLogicTests: XCTestCase {
    let utc = TimeZone(identifier: "UTC") ?? .gmt

    func date(_ s: String) -> Date { Timestamp.parse(s) ?? Date.distantPast }

    func testCronNextFiring() throws {
        let weekday9 = try CronSchedule("0 9 * * 1-5")
        // 2026-11-20 is a Friday.
        XCTAssertEqual(weekday9.next(after: date("2026-11-20T08:59:00Z"), in: utc), date("2026-11-20T09:00:00Z"))
        XCTAssertEqual(weekday9.next(after: date("2026-11-20T09:00:00Z"), in: utc), date("2026-11-23T09:00:00Z"), "strictly after; skips the weekend")
        let every15 = try CronSchedule("*/15 * * * *")
        XCTAssertEqual(every15.next(after: date("2026-11-20T10:07:30Z"), in: utc), date("2026-11-20T10:15:00Z"))
        let monthly = try CronSchedule("30 6 1 * *")
        XCTAssertEqual(monthly.next(after: date("2026-11-20T00:00:00Z"), in: utc), date("2026-12-01T06:30:00Z"))
        // Day-of-month OR day-of-week when both are restricted (Vixie cron).
        let either = try CronSchedule("0 0 13 * 5")
        XCTAssertEqual(either.next(after: date("2026-11-01T00:00:00Z"), in: utc), date("2026-11-06T00:00:00Z"))
        XCTAssertEqual(try CronSchedule("0 0 * * 7").next(after: date("2026-11-20T00:00:00Z"), in: utc), date("2026-11-22T00:00:00Z"), "7 is Sunday")
        // The workspace timezone decides the wall clock: 09:00 in Berlin is 08:00 UTC in winter.
        let berlin = try XCTUnwrap(TimeZone(identifier: "Europe/Berlin"))
        XCTAssertEqual(weekday9.next(after: date("2026-11-20T00:00:00Z"), in: berlin), date("2026-11-20T08:00:00Z"))
        // 02:30 does not exist on 2026-03-29 in Berlin (clocks jump 02:00 → 03:00): the next real 02:30 is the day after.
        XCTAssertEqual(try CronSchedule("30 2 * * *").next(after: date("2026-03-28T12:00:00Z"), in: berlin), date("2026-03-30T00:30:00Z"))
        XCTAssertNil(try CronSchedule("0 0 31 2 *").next(after: date("2026-01-01T00:00:00Z"), in: utc), "31 February never comes")
        for bad in ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "a * * * *", "5-1 * * * *"] {
            XCTAssertThrowsError(try CronSchedule(bad), bad)
        }
    }

    func subject() -> AutomationSubject {
        AutomationSubject(objectType: "deal", objectID: "deal_1",
                          record: ["name": .string("Big Deal"), "value": .number("15000.50"), "tags": .array([.string("VIP"), .string("renewal")]),
                                   "close_date": .string("2026-11-25"), "owner_id": .null, "created_at": .string("2026-11-20T10:00:00.000Z")],
                          previous: ["stage_id": .string("stg_old")], changedFields: ["stage_id"],
                          related: ["stage": .object(["type": .string("won"), "name": .string("Closed won")])])
    }

    func check(_ field: String, _ op: FilterOp, _ value: JSONValue) -> Bool {
        ConditionEvaluator(now: date("2026-11-22T12:00:00Z"), timezone: utc, schema: DealBehavior.schema)
            .matches(AutomationCondition(field: field, op: op, value: value), subject())
    }

    func testConditionsUseTheSearchOperators() {
        XCTAssertTrue(check("deal.value", .gt, .number("10000")))
        XCTAssertFalse(check("deal.value", .lt, .number("10000")))
        XCTAssertTrue(check("deal.value", .between, .array([.number("15000"), .number("16000")])))
        XCTAssertTrue(check("deal.name", .eq, .string("big deal")), "strings compare case-insensitively")
        XCTAssertTrue(check("deal.name", .contains, .string("BIG")))
        XCTAssertTrue(check("deal.name", .startsWith, .string("big")))
        XCTAssertFalse(check("deal.name", .neq, .string("Big Deal")))
        XCTAssertTrue(check("deal.stage.type", .eq, .string("won")))
        XCTAssertTrue(check("deal.stage.type", .in, .array([.string("won"), .string("lost")])))
        XCTAssertTrue(check("deal.stage.type", .nin, .array([.string("open")])))
        XCTAssertTrue(check("deal.tags", .contains, .string("vip")))
        XCTAssertTrue(check("deal.tags", .eq, .string("renewal")))
        XCTAssertTrue(check("changed_fields", .contains, .string("stage_id")))
        XCTAssertFalse(check("changed_fields", .contains, .string("value")))
        XCTAssertTrue(check("previous.stage_id", .eq, .string("stg_old")))
        XCTAssertTrue(check("deal.owner_id", .isNull, .bool(true)))
        XCTAssertFalse(check("deal.name", .isNull, .bool(true)))
        XCTAssertTrue(check("deal.missing_field", .isNull, .bool(true)))
        XCTAssertTrue(check("deal.close_date", .nextNDays, .number("7")))
        XCTAssertFalse(check("deal.close_date", .lastNDays, .number("7")))
        XCTAssertTrue(check("deal.created_at", .lastNDays, .number("7")))
        XCTAssertTrue(check("deal.created_at", .thisMonth, .null))
        XCTAssertTrue(check("deal.close_date", .gt, .string("2026-11-22")))
    }

    func testTemplatesFillPlaceholders() {
        let s = subject()
        XCTAssertEqual(AutomationTemplate.render("Call about {{record.name}} ({{ deal.value }})", s), "Call about Big Deal (15000.50)")
        XCTAssertEqual(AutomationTemplate.render("{{record.stage.name}} / {{previous.stage_id}} / {{record.nope}}!", s), "Closed won / stg_old / !")
        XCTAssertEqual(AutomationTemplate.render("tags: {{record.tags}}", s), "tags: VIP, renewal")
        XCTAssertEqual(AutomationTemplate.render("unclosed {{record.name", s), "unclosed {{record.name")
        XCTAssertEqual(AutomationTemplate.render("plain", s), "plain")
    }

    func parse(_ body: [String: JSONValue]) throws -> AutomationDefinition {
        try AutomationDefinition.parse(body, timezone: utc, now: date("2026-11-22T12:00:00Z"))
    }

    func field(_ body: [String: JSONValue]) -> String? {
        do {
            _ = try parse(body)
            return nil
        } catch let e as APIError {
            return e.details.first?.field ?? "?"
        } catch {
            return "?"
        }
    }

    func testDefinitionsAreValidated() throws {
        let trigger: JSONValue = .object(["event": .string("deal.stage_changed"),
                                          "conditions": .array([.object(["field": .string("deal.value"), "op": .string("gte"), "value": .number("1000")])])])
        let actions: JSONValue = .array([.object(["type": .string("add_tags"), "config": .object(["tags": .array([.string("hot")])])])])
        let ok = try parse(["name": .string("Tag big deals"), "trigger": trigger, "actions": actions])
        XCTAssertFalse(ok.isActive, "automations start switched off")
        XCTAssertEqual(ok.trigger.objectType, "deal")

        XCTAssertEqual(field(["trigger": trigger, "actions": actions]), "name")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger, "actions": actions, "colour": .string("red")]), "colour")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("deal.exploded")]), "actions": actions]), "trigger.event")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("schedule"), "object_type": .string("deal")]), "actions": actions]),
                       "trigger.cron")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("schedule"), "cron": .string("61 * * * *"),
                                                                          "object_type": .string("deal")]), "actions": actions]), "trigger.cron")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("schedule"), "cron": .string("0 9 * * *"),
                                                                          "object_type": .string("widget")]), "actions": actions]), "trigger.object_type")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("deal.won"), "conditions": .array([
            .object(["field": .string("contact.email"), "op": .string("eq"), "value": .string("x")])])]), "actions": actions]),
                       "trigger.conditions[0].field")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("deal.won"), "conditions": .array([
            .object(["field": .string("deal.value"), "op": .string("approx"), "value": .number("1")])])]), "actions": actions]),
                       "trigger.conditions[0].op")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("deal.won"), "conditions": .array([
            .object(["field": .string("deal.value"), "op": .string("in"), "value": .number("1")])])]), "actions": actions]),
                       "trigger.conditions[0].value")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger, "actions": .array([])]), "actions")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger,
                              "actions": .array([.object(["type": .string("launch_rocket"), "config": .object([:])])])]), "actions[0].type")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger,
                              "actions": .array([.object(["type": .string("create_task"), "config": .object([:])])])]), "actions[0].config.title")
        XCTAssertEqual(field(["name": .string("x"), "trigger": .object(["event": .string("contact.created")]),
                              "actions": .array([.object(["type": .string("move_stage"), "config": .object(["stage_id": .string("stg_1")])])])]),
                       "actions[0].type", "move_stage applies to deals only")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger,
                              "actions": .array([.object(["type": .string("update_field"), "config": .object(["field": .string("is_stale"),
                                                                                                                 "value": .bool(true)])])])]),
                       "actions[0].config.field")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger,
                              "actions": .array([.object(["type": .string("assign_owner"), "config": .object(["strategy": .string("random")])])])]),
                       "actions[0].config.strategy")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger,
                              "actions": .array([.object(["type": .string("send_webhook"), "config": .object(["url": .string("ftp://x")])])])]),
                       "actions[0].config.url")
        XCTAssertEqual(field(["name": .string("x"), "trigger": trigger,
                              "actions": .array([.object(["type": .string("add_tags"), "config": .object(["tags": .array([]), "extra": .bool(true)])])])]),
                       "actions[0].config.extra")
    }
}
