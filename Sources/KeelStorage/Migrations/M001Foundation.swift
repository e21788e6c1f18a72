let m001Foundation = Migration(version: 1, name: "foundation", statements: [
    "CREATE TABLE keel_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, password_hash TEXT NOT NULL,
        last_workspace_id TEXT, tokens_revoked_before BIGINT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL)
    """,
    "CREATE UNIQUE INDEX users_email ON users (email)",
    """
    CREATE TABLE workspaces (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, default_currency TEXT NOT NULL, timezone TEXT NOT NULL, settings TEXT NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, created_by TEXT, version BIGINT NOT NULL,
        deleted_at BIGINT, purge_after BIGINT)
    """,
    """
    CREATE TABLE members (
        workspace_id TEXT NOT NULL REFERENCES workspaces (id), id TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users (id),
        role TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE UNIQUE INDEX members_workspace_user ON members (workspace_id, user_id)",
    "CREATE INDEX members_user ON members (user_id)",
    """
    CREATE TABLE api_keys (
        workspace_id TEXT NOT NULL REFERENCES workspaces (id), id TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users (id),
        name TEXT NOT NULL, prefix TEXT NOT NULL, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL,
        expires_at BIGINT, last_used_at BIGINT, revoked_at BIGINT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix)",
    """
    CREATE TABLE invitations (
        workspace_id TEXT NOT NULL REFERENCES workspaces (id), id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
        invited_by TEXT NOT NULL, token_hash TEXT NOT NULL, expires_at BIGINT NOT NULL, accepted_at BIGINT, cancelled_at BIGINT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, id))
    """,
    "CREATE UNIQUE INDEX invitations_id ON invitations (id)",
    """
    CREATE TABLE refresh_tokens (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, workspace_id TEXT NOT NULL, family_id TEXT NOT NULL, token_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, rotated_at BIGINT, revoked_at BIGINT)
    """,
    "CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash)",
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
    "CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id)",
    "CREATE TABLE revoked_access_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
    """
    CREATE TABLE password_resets (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (id), token_hash TEXT NOT NULL,
        expires_at BIGINT NOT NULL, used_at BIGINT, created_at BIGINT NOT NULL)
    """,
    "CREATE UNIQUE INDEX password_resets_hash ON password_resets (token_hash)",
    """
    CREATE TABLE mail_outbox (
        id TEXT PRIMARY KEY, workspace_id TEXT, recipient TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
        created_at BIGINT NOT NULL, sent_at BIGINT, attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT)
    """,
    "CREATE INDEX mail_outbox_pending ON mail_outbox (sent_at, id)",
    """
    CREATE TABLE audit_logs (
        id TEXT PRIMARY KEY, workspace_id TEXT, actor_type TEXT NOT NULL, actor_id TEXT, action TEXT NOT NULL,
        object_type TEXT, object_id TEXT, changes TEXT, request_id TEXT, ip TEXT, created_at BIGINT NOT NULL)
    """,
    "CREATE INDEX audit_logs_workspace ON audit_logs (workspace_id, id)",
    "CREATE INDEX audit_logs_object ON audit_logs (workspace_id, object_type, object_id, id)",
    "CREATE INDEX audit_logs_actor ON audit_logs (workspace_id, actor_id, id)",
    "CREATE INDEX audit_logs_action ON audit_logs (workspace_id, action, id)",
    """
    CREATE TABLE outbox_events (
        seq {{SERIAL_PK}}, id TEXT NOT NULL, workspace_id TEXT NOT NULL, type TEXT NOT NULL, occurred_at BIGINT NOT NULL,
        actor_type TEXT NOT NULL, actor_id TEXT, object_type TEXT NOT NULL, object_id TEXT NOT NULL, payload TEXT NOT NULL,
        causation_depth BIGINT NOT NULL DEFAULT 0, dispatched_at BIGINT)
    """,
    "CREATE UNIQUE INDEX outbox_events_id ON outbox_events (id)",
    "CREATE INDEX outbox_events_undispatched ON outbox_events (dispatched_at, seq)",
    "CREATE INDEX outbox_events_workspace ON outbox_events (workspace_id, occurred_at)",
    """
    CREATE TABLE idempotency_keys (
        scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL, status BIGINT,
        headers TEXT, body TEXT, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        PRIMARY KEY (scope, key))
    """,
    "CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)",
])
