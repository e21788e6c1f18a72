import Foundation
import KeelCore

let m003Pipelines = Migration(version: 3, name: "pipelines_deals_products", statements: [
    """
    CREATE TABLE pipelines (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, is_default BIGINT NOT NULL, currency TEXT NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT,
        PRIMARY KEY (workspace_id, id))
    """,
    """
    CREATE TABLE stages (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, pipeline_id TEXT NOT NULL, name TEXT NOT NULL, position BIGINT NOT NULL, type TEXT NOT NULL,
        probability BIGINT NOT NULL, probability_is_default BIGINT NOT NULL, forecast_category TEXT NOT NULL, color TEXT, rot_days BIGINT,
        rules TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL, deleted_at BIGINT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX stages_pipeline ON stages (workspace_id, pipeline_id, position) WHERE deleted_at IS NULL",
    """
    CREATE TABLE deals (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, name_lower TEXT NOT NULL, pipeline_id TEXT NOT NULL, stage_id TEXT NOT NULL,
        status TEXT NOT NULL, currency TEXT NOT NULL, value BIGINT, probability BIGINT, probability_overridden BIGINT NOT NULL DEFAULT 0,
        expected_close_date TEXT, closed_at BIGINT, lost_reason TEXT, owner_id TEXT, visibility TEXT NOT NULL, company_id TEXT, contacts TEXT,
        source TEXT, stage_entered_at BIGINT, last_activity_at BIGINT,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX deals_created ON deals (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_stage ON deals (workspace_id, stage_id, status, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_pipeline_totals ON deals (workspace_id, pipeline_id, stage_id, value) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_owner ON deals (workspace_id, owner_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_company ON deals (workspace_id, company_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_close ON deals (workspace_id, expected_close_date, id) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_value ON deals (workspace_id, value, id) WHERE deleted_at IS NULL",
    "CREATE INDEX deals_name ON deals (workspace_id, name_lower, id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE deal_contacts (
        workspace_id TEXT NOT NULL, deal_id TEXT NOT NULL, contact_id TEXT NOT NULL, PRIMARY KEY (workspace_id, deal_id, contact_id))
    """,
    "CREATE INDEX deal_contacts_contact ON deal_contacts (workspace_id, contact_id, deal_id)",
    """
    CREATE TABLE deal_stage_history (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, deal_id TEXT NOT NULL, from_stage_id TEXT, to_stage_id TEXT NOT NULL, moved_at BIGINT NOT NULL,
        moved_by_type TEXT NOT NULL, moved_by_id TEXT, time_in_previous_stage_seconds BIGINT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX deal_stage_history_deal ON deal_stage_history (workspace_id, deal_id, moved_at, id)",
    """
    CREATE TABLE products (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, name_lower TEXT NOT NULL, sku TEXT, sku_lower TEXT, description TEXT,
        description_lower TEXT, currency TEXT NOT NULL, price BIGINT, cost BIGINT, unit TEXT, is_active BIGINT NOT NULL DEFAULT 1,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE UNIQUE INDEX products_sku ON products (workspace_id, sku) WHERE deleted_at IS NULL AND sku IS NOT NULL",
    "CREATE INDEX products_created ON products (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX products_name ON products (workspace_id, name_lower, id) WHERE deleted_at IS NULL",
    "CREATE INDEX products_price ON products (workspace_id, price, id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE line_items (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, deal_id TEXT NOT NULL, product_id TEXT, name TEXT NOT NULL, quantity BIGINT NOT NULL,
        unit_price BIGINT NOT NULL, discount BIGINT NOT NULL, total BIGINT NOT NULL, position BIGINT NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX line_items_deal ON line_items (workspace_id, deal_id, position)",
], data: { tx in
    // Workspaces created before pipelines existed get their default pipeline.
    for ws in try await tx.identity.workspaces(limit: 1_000_000) {
        guard try await tx.pipelines.pipelines(ws.id).isEmpty else { continue }
        try await PipelineService.provisionDefault(workspaceID: ws.id, currency: ws.defaultCurrency, createdBy: ws.createdBy, at: Date(), in: tx)
    }
})
