/// Deal counts and value sums per stage, kept by triggers on `deals`, so a pipeline's stage totals and its board cost the same
/// on 1,000 deals as on 1,000,000 (they summed every deal of the pipeline on each read before).
///
/// One row per (pipeline, stage, visibility bucket): `private_owner` is '' for deals the whole workspace sees, and the owner's id
/// (or '~' when a private deal has no owner) for private deals, which only their owner and admins may count. Triggers rather
/// than service code, so that no write path (moves, merges, restores, trash, purges, imports, demo data) can miss an update.
let m006StageTotals = Migration(
    version: 6, name: "stage_totals",
    statements: [
        """
        CREATE TABLE stage_totals (
            workspace_id TEXT NOT NULL, pipeline_id TEXT NOT NULL, stage_id TEXT NOT NULL, private_owner TEXT NOT NULL,
            deal_count BIGINT NOT NULL, value_sum BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, pipeline_id, stage_id, private_owner))
        """,
        """
        INSERT INTO stage_totals (workspace_id, pipeline_id, stage_id, private_owner, deal_count, value_sum)
        SELECT workspace_id, pipeline_id, stage_id, \(StageTotalsSQL.bucket("")), COUNT(*), COALESCE(SUM(value), 0)
        FROM deals WHERE deleted_at IS NULL
        GROUP BY workspace_id, pipeline_id, stage_id, \(StageTotalsSQL.bucket(""))
        """,
    ],
    dialectStatements: [
        .sqlite: [
            """
            CREATE TRIGGER deals_stage_totals_insert AFTER INSERT ON deals WHEN NEW.deleted_at IS NULL BEGIN
                \(StageTotalsSQL.sqliteAdd("NEW"));
            END
            """,
            """
            CREATE TRIGGER deals_stage_totals_delete AFTER DELETE ON deals WHEN OLD.deleted_at IS NULL BEGIN
                \(StageTotalsSQL.sqliteSubtract("OLD"));
            END
            """,
            """
            CREATE TRIGGER deals_stage_totals_update AFTER UPDATE ON deals WHEN \(StageTotalsSQL.changed(distinct: "IS NOT")) BEGIN
                \(StageTotalsSQL.sqliteSubtract("OLD")) AND OLD.deleted_at IS NULL;
                \(StageTotalsSQL.sqliteAdd("NEW", onlyIf: "NEW.deleted_at IS NULL"));
            END
            """,
        ],
        .postgres: [
            // Row locks on stage_totals are taken in key order, so two moves in opposite directions cannot deadlock.
            """
            CREATE FUNCTION keel_deals_stage_totals() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                old_key TEXT[];
                new_key TEXT[];
                step RECORD;
            BEGIN
                IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
                    old_key := ARRAY[OLD.workspace_id, OLD.pipeline_id, OLD.stage_id, \(StageTotalsSQL.bucket("OLD."))];
                END IF;
                IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
                    new_key := ARRAY[NEW.workspace_id, NEW.pipeline_id, NEW.stage_id, \(StageTotalsSQL.bucket("NEW."))];
                END IF;
                FOR step IN
                    SELECT k, n, v FROM (VALUES (old_key, -1, -COALESCE(OLD.value, 0)), (new_key, 1, COALESCE(NEW.value, 0))) AS s(k, n, v)
                    WHERE k IS NOT NULL ORDER BY k
                LOOP
                    INSERT INTO stage_totals (workspace_id, pipeline_id, stage_id, private_owner, deal_count, value_sum)
                    VALUES (step.k[1], step.k[2], step.k[3], step.k[4], step.n, step.v)
                    ON CONFLICT (workspace_id, pipeline_id, stage_id, private_owner) DO UPDATE
                    SET deal_count = stage_totals.deal_count + EXCLUDED.deal_count, value_sum = stage_totals.value_sum + EXCLUDED.value_sum;
                END LOOP;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER deals_stage_totals_insert AFTER INSERT ON deals FOR EACH ROW
            WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION keel_deals_stage_totals()
            """,
            """
            CREATE TRIGGER deals_stage_totals_delete AFTER DELETE ON deals FOR EACH ROW
            WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION keel_deals_stage_totals()
            """,
            """
            CREATE TRIGGER deals_stage_totals_update AFTER UPDATE ON deals FOR EACH ROW
            WHEN (\(StageTotalsSQL.changed(distinct: "IS DISTINCT FROM"))) EXECUTE FUNCTION keel_deals_stage_totals()
            """,
        ],
    ])

/// SQL fragments shared by both dialects' triggers.
enum StageTotalsSQL {
    /// The visibility bucket of a deal row; `row` is "", "OLD." or "NEW.".
    static func bucket(_ row: String) -> String {
        "CASE WHEN \(row)visibility = 'workspace' THEN '' ELSE COALESCE(\(row)owner_id, '~') END"
    }

    static func changed(distinct op: String) -> String {
        ["pipeline_id", "stage_id", "value", "visibility", "owner_id"].map { "OLD.\($0) \(op) NEW.\($0)" }.joined(separator: " OR ")
            + " OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
    }

    static func sqliteAdd(_ row: String, onlyIf condition: String = "1") -> String {
        """
        INSERT INTO stage_totals (workspace_id, pipeline_id, stage_id, private_owner, deal_count, value_sum)
        SELECT \(row).workspace_id, \(row).pipeline_id, \(row).stage_id, \(bucket(row + ".")), 1, COALESCE(\(row).value, 0) WHERE \(condition)
        ON CONFLICT (workspace_id, pipeline_id, stage_id, private_owner) DO UPDATE
        SET deal_count = deal_count + 1, value_sum = value_sum + excluded.value_sum
        """
    }

    /// Ends with a WHERE clause the caller may extend with AND.
    static func sqliteSubtract(_ row: String) -> String {
        """
        UPDATE stage_totals SET deal_count = deal_count - 1, value_sum = value_sum - COALESCE(\(row).value, 0)
        WHERE workspace_id = \(row).workspace_id AND pipeline_id = \(row).pipeline_id AND stage_id = \(row).stage_id
          AND private_owner = \(bucket(row + "."))
        """
    }
}
