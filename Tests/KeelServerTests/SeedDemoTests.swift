import Foundation
import KeelServer
import KeelStorage
import Logging
import SQLKit
import XCTest

final class SeedDemoTests: XCTestCase {
    struct Seeded: Sendable {
        let summaryContacts: Int?
        let counts: [String: Int]
        let contactEmails: [String]
        let contactIndexes: Int
        let overdueTasks: Int
        let dealStatuses: Set<String>
        let historyMoves: Int
    }

    static func seed(_ seed: UInt64) async throws -> Seeded {
        let (dbConfig, cleanup) = try await TestDatabase.make()
        do {
            var config = KeelConfig()
            config.database = dbConfig
            config.bcryptCost = 4
            config.logLevel = .warning
            config.jwtSecret = String(repeating: "s", count: 48)
            let json = try await KeelCLI.seedDemo(config, workspace: nil, companies: 20, contacts: 300, notes: 40, leads: 25, deals: 60, tasks: 40,
                                                  activities: 120, seed: seed, progress: { _ in })
            let summary = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
            let total = try XCTUnwrap(summary["seconds"] as? Double), rows = try XCTUnwrap(summary["rows_seconds"] as? Double)
            XCTAssertGreaterThanOrEqual(total, rows, "the reported time covers the index builds after the rows")
            XCTAssertGreaterThanOrEqual(rows, 0)
            let db = try await KeelDatabase.open(dbConfig, logger: Logger(label: "t"))
            func count(_ sql: String) async throws -> Int {
                try await db.withSQL { try await $0.raw(SQLQueryString(sql)).first()?.decode(column: "n", as: Int.self) } ?? -1
            }
            var counts: [String: Int] = [:]
            for table in ["companies", "contacts", "notes", "leads", "deals", "tasks", "activities", "line_items", "deal_stage_history", "pipelines"] {
                counts[table] = try await count("SELECT COUNT(*) AS n FROM \(table)")
            }
            let emails = try await db.withSQL { try await $0.raw("SELECT email FROM contacts ORDER BY email").all() }
                .compactMap { try? $0.decode(column: "email", as: String?.self) }
            let indexes: Int
            if case .sqlite = dbConfig {
                indexes = try await count("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' AND sql IS NOT NULL")
            } else {
                indexes = try await count("SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = 'contacts' AND schemaname = current_schema() AND indexname <> 'contacts_pkey'")
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let overdue = try await count("SELECT COUNT(*) AS n FROM tasks WHERE status IN ('pending', 'in_progress') AND due_at < \(now)")
            let statuses = try await db.withSQL { try await $0.raw("SELECT DISTINCT status FROM deals").all() }
                .compactMap { try? $0.decode(column: "status", as: String.self) }
            let moves = try await count("SELECT COUNT(*) AS n FROM deal_stage_history")
            // Every contact's last_activity_at is the newest activity linked to it (NULL without one).
            let staleLastActivity = try await count("""
                SELECT COUNT(*) AS n FROM contacts c WHERE COALESCE(c.last_activity_at, -1) <> COALESCE((SELECT MAX(l.occurred_at)
                FROM activity_links l WHERE l.workspace_id = c.workspace_id AND l.related_type = 'contact' AND l.related_id = c.id), -1)
                """)
            let withActivity = try await count("SELECT COUNT(*) AS n FROM contacts WHERE last_activity_at IS NOT NULL")
            // The stage totals (kept by triggers) agree with the deals the seeder wrote.
            let liveDeals = try await count("SELECT COUNT(*) AS n FROM deals WHERE deleted_at IS NULL")
            let totalled = try await count("SELECT CAST(COALESCE(SUM(deal_count), 0) AS BIGINT) AS n FROM stage_totals")
            let valueGap = try await count("""
                SELECT CAST(ABS((SELECT COALESCE(SUM(value), 0) FROM deals WHERE deleted_at IS NULL)
                    - (SELECT COALESCE(SUM(value_sum), 0) FROM stage_totals)) AS BIGINT) AS n
                """)
            // On PostgreSQL the planner has statistics for the freshly loaded tables.
            var analyzed = 3
            if case .postgres = dbConfig {
                analyzed = try await count("""
                    SELECT COUNT(*) AS n FROM pg_stat_user_tables WHERE schemaname = current_schema()
                    AND relname IN ('contacts', 'deals', 'activities') AND last_analyze IS NOT NULL
                    """)
            }
            await db.shutdown()
            await cleanup()
            XCTAssertEqual(staleLastActivity, 0, "last_activity_at matches the linked activities")
            XCTAssertEqual(totalled, liveDeals, "stage_totals counts every live deal")
            XCTAssertEqual(valueGap, 0, "stage_totals sums every live deal's value")
            XCTAssertEqual(analyzed, 3, "seed-demo leaves planner statistics behind on PostgreSQL")
            XCTAssertGreaterThan(withActivity, 0, "some contacts have activities")
            return Seeded(summaryContacts: summary["contacts"] as? Int, counts: counts, contactEmails: emails, contactIndexes: indexes, overdueTasks: overdue,
                          dealStatuses: Set(statuses), historyMoves: moves)
        } catch {
            await cleanup()
            throw error
        }
    }

    func testSeedDemoFillsALivingCRMReproducibly() async throws {
        let first = try await SeedDemoTests.seed(42)
        XCTAssertEqual(first.counts["contacts"], 300)
        XCTAssertEqual(first.counts["companies"], 20)
        XCTAssertEqual(first.counts["deals"], 60)
        XCTAssertEqual(first.counts["leads"], 25)
        XCTAssertEqual(first.counts["tasks"], 40)
        XCTAssertEqual(first.counts["activities"], 120)
        XCTAssertGreaterThanOrEqual(first.counts["pipelines"] ?? 0, 3, "three pipelines")
        XCTAssertGreaterThan(first.counts["line_items"] ?? 0, 0)
        XCTAssertGreaterThan(first.historyMoves, 0, "deals come with stage histories")
        XCTAssertGreaterThan(first.overdueTasks, 0, "some tasks are overdue")
        XCTAssertTrue(first.dealStatuses.isSuperset(of: ["open", "won", "lost"]), "\(first.dealStatuses)")
        XCTAssertEqual(first.contactIndexes, 10, "indexes dropped for the bulk load are built again")
        XCTAssertEqual(first.summaryContacts, 300)
        XCTAssertTrue(first.contactEmails.allSatisfy { $0.contains("@") })
        let again = try await SeedDemoTests.seed(42)
        XCTAssertEqual(again.contactEmails, first.contactEmails, "the same seed gives the same data")
        let other = try await SeedDemoTests.seed(7)
        XCTAssertNotEqual(other.contactEmails, first.contactEmails)
    }
}
