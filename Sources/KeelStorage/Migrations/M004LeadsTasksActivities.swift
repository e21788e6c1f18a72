let m004LeadsTasksActivities = Migration(version: 4, name: "leads_tasks_activities", statements: [
    """
    CREATE TABLE leads (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, name_lower TEXT NOT NULL, email TEXT, phone TEXT, phone_digits TEXT,
        company_name TEXT, company_name_lower TEXT, title TEXT, source TEXT NOT NULL, status TEXT NOT NULL, owner_id TEXT, visibility TEXT NOT NULL,
        value BIGINT, converted_contact_id TEXT, converted_company_id TEXT, converted_deal_id TEXT, converted_at BIGINT, last_activity_at BIGINT,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX leads_created ON leads (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX leads_status ON leads (workspace_id, status, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX leads_owner ON leads (workspace_id, owner_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX leads_email ON leads (workspace_id, email) WHERE deleted_at IS NULL",
    """
    CREATE TABLE tasks (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL, title_lower TEXT NOT NULL, description TEXT, status TEXT NOT NULL,
        priority TEXT NOT NULL, due_at BIGINT, assignee_id TEXT, related_type TEXT, related_id TEXT, completed_at BIGINT,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX tasks_created ON tasks (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX tasks_assignee ON tasks (workspace_id, assignee_id, status, due_at) WHERE deleted_at IS NULL",
    "CREATE INDEX tasks_due ON tasks (workspace_id, status, due_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX tasks_related ON tasks (workspace_id, related_type, related_id, created_at, id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE activities (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, subject TEXT, subject_lower TEXT, body TEXT, occurred_at BIGINT NOT NULL,
        duration_seconds BIGINT, outcome TEXT, direction TEXT, related_to TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX activities_created ON activities (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX activities_occurred ON activities (workspace_id, occurred_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX activities_type ON activities (workspace_id, type, created_at, id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE activity_links (
        workspace_id TEXT NOT NULL, activity_id TEXT NOT NULL, related_type TEXT NOT NULL, related_id TEXT NOT NULL, occurred_at BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, activity_id, related_type, related_id))
    """,
    "CREATE INDEX activity_links_related ON activity_links (workspace_id, related_id, occurred_at, activity_id)",
])
