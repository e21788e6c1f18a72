let m002Records = Migration(version: 2, name: "contacts_companies_notes", statements: [
    """
    CREATE TABLE contacts (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL,
        first_name TEXT, first_name_lower TEXT, last_name TEXT, last_name_lower TEXT,
        display_name TEXT NOT NULL, display_name_lower TEXT NOT NULL,
        email TEXT, phone TEXT, phone_digits TEXT, title TEXT, title_lower TEXT, company_id TEXT, owner_id TEXT, visibility TEXT NOT NULL,
        lifecycle_stage TEXT, source TEXT, source_lower TEXT, address TEXT, email_opt_out BIGINT NOT NULL DEFAULT 0, last_activity_at BIGINT,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX contacts_created ON contacts (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_updated ON contacts (workspace_id, updated_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_name ON contacts (workspace_id, display_name_lower, id) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX contacts_email ON contacts (workspace_id, email) WHERE deleted_at IS NULL AND email IS NOT NULL",
    "CREATE INDEX contacts_phone ON contacts (workspace_id, phone_digits) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_owner ON contacts (workspace_id, owner_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_company ON contacts (workspace_id, company_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_lifecycle ON contacts (workspace_id, lifecycle_stage, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_last_name ON contacts (workspace_id, last_name_lower) WHERE deleted_at IS NULL",
    "CREATE INDEX contacts_first_name ON contacts (workspace_id, first_name_lower) WHERE deleted_at IS NULL",
    """
    CREATE TABLE companies (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, name_lower TEXT NOT NULL, domain TEXT, industry TEXT, industry_lower TEXT,
        size TEXT, phone TEXT, phone_digits TEXT, website TEXT, address TEXT, owner_id TEXT, visibility TEXT NOT NULL, annual_revenue BIGINT, last_activity_at BIGINT,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX companies_created ON companies (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX companies_updated ON companies (workspace_id, updated_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX companies_name ON companies (workspace_id, name_lower, id) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX companies_domain ON companies (workspace_id, domain) WHERE deleted_at IS NULL AND domain IS NOT NULL",
    "CREATE INDEX companies_owner ON companies (workspace_id, owner_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX companies_industry ON companies (workspace_id, industry_lower, created_at, id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE notes (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, pinned BIGINT NOT NULL DEFAULT 0,
        related_type TEXT NOT NULL, related_id TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL, deleted_at BIGINT, merged_into TEXT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX notes_related ON notes (workspace_id, related_type, related_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX notes_created ON notes (workspace_id, created_at, id) WHERE deleted_at IS NULL",
    """
    CREATE TABLE record_tags (
        workspace_id TEXT NOT NULL, object_type TEXT NOT NULL, object_id TEXT NOT NULL, tag TEXT NOT NULL, tag_lower TEXT NOT NULL,
        PRIMARY KEY (workspace_id, object_type, object_id, tag_lower))
    """,
    "CREATE INDEX record_tags_tag ON record_tags (workspace_id, tag_lower, object_type, object_id)",
    """
    CREATE TABLE custom_field_definitions (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, object_type TEXT NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL, type TEXT NOT NULL,
        options TEXT NOT NULL, required BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT,
        version BIGINT NOT NULL, deleted_at BIGINT,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE UNIQUE INDEX custom_field_key ON custom_field_definitions (workspace_id, object_type, key) WHERE deleted_at IS NULL",
    """
    CREATE TABLE field_history (
        workspace_id TEXT NOT NULL, id TEXT NOT NULL, object_type TEXT NOT NULL, object_id TEXT NOT NULL, field TEXT NOT NULL,
        old_value TEXT, new_value TEXT, actor_type TEXT NOT NULL, actor_id TEXT, source TEXT NOT NULL, at BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE INDEX field_history_object ON field_history (workspace_id, object_type, object_id, at, id)",
])
