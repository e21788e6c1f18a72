/// Webhook endpoints, deliveries with every attempt, automations and their runs, and the scheduler's once-only marks.
let m005WebhooksAutomations = Migration(version: 5, name: "webhooks_automations", statements: [
    """
    CREATE TABLE webhook_endpoints (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL, description TEXT, events TEXT NOT NULL,
        secret TEXT NOT NULL, previous_secret TEXT, previous_secret_until BIGINT, status TEXT NOT NULL, disabled_reason TEXT,
        failing_since BIGINT, created_by TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    """
    CREATE TABLE webhook_deliveries (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, endpoint_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
        body TEXT NOT NULL, status TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, next_attempt_at BIGINT, lease_until BIGINT,
        last_status_code BIGINT, last_error TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending'",
    "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (workspace_id, endpoint_id, id)",
    "CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at)",
    """
    CREATE TABLE webhook_attempts (
        workspace_id TEXT NOT NULL, delivery_id TEXT NOT NULL, attempt BIGINT NOT NULL, endpoint_id TEXT NOT NULL, url TEXT NOT NULL,
        started_at BIGINT NOT NULL, duration_ms BIGINT NOT NULL, status_code BIGINT, response_snippet TEXT, error TEXT, succeeded BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, delivery_id, attempt))
    """,
    """
    CREATE TABLE automations (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, description TEXT, is_active BIGINT NOT NULL,
        trigger_event TEXT NOT NULL, trigger TEXT NOT NULL, actions TEXT NOT NULL, object_type TEXT, cron TEXT, next_run_at BIGINT,
        round_robin BIGINT NOT NULL DEFAULT 0, created_by TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        version BIGINT NOT NULL, PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX automations_trigger ON automations (workspace_id, trigger_event) WHERE is_active = 1",
    "CREATE INDEX automations_schedule ON automations (next_run_at) WHERE is_active = 1 AND trigger_event = 'schedule'",
    """
    CREATE TABLE automation_runs (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, automation_id TEXT NOT NULL, event_id TEXT, source TEXT NOT NULL,
        object_type TEXT, object_id TEXT, status TEXT NOT NULL, causation_depth BIGINT NOT NULL, actions TEXT NOT NULL,
        error TEXT, lease_until BIGINT, created_at BIGINT NOT NULL, finished_at BIGINT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX automation_runs_pending ON automation_runs (id) WHERE status = 'pending'",
    "CREATE INDEX automation_runs_running ON automation_runs (lease_until) WHERE status = 'running'",
    "CREATE INDEX automation_runs_automation ON automation_runs (workspace_id, automation_id, id)",
    "CREATE INDEX automation_runs_created ON automation_runs (created_at)",
    """
    CREATE TABLE scheduler_marks (
        workspace_id TEXT NOT NULL, kind TEXT NOT NULL, object_id TEXT NOT NULL, episode TEXT NOT NULL, created_at BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, kind, object_id, episode))
    """,
    "CREATE INDEX outbox_events_occurred ON outbox_events (occurred_at)",
])
