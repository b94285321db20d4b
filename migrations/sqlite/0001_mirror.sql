-- The mirror's schema on SQLite (embedded mode). Same tables and meaning as
-- migrations/postgres/0001_mirror.sql; only the types differ:
--
-- * Timestamps are TEXT in one fixed RFC 3339 shape, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six
--   fractional digits, always `Z`), so comparing the text compares the instants and the
--   indexes on them order correctly. The store writes every timestamp through one formatter.
-- * JSON columns are TEXT holding JSON; arrays of ids (run_seen) are JSON arrays read with
--   json_each.
-- * TEXT compares bytewise (BINARY collation), the order Postgres gets from COLLATE "C".
-- * As on Postgres, the high-volume tables carry no foreign keys: writes to them happen inside
--   a BEGIN IMMEDIATE transaction that has just read the integration's fence.

CREATE TABLE integrations (
    id                     TEXT PRIMARY KEY NOT NULL,
    tool                   TEXT NOT NULL,
    environment            TEXT NOT NULL,
    base_url               TEXT NOT NULL,
    -- version byte || 24-byte nonce || XChaCha20-Poly1305 ciphertext; never clear text (I8).
    credentials_ciphertext BLOB NOT NULL,
    scope_config           TEXT NOT NULL,
    fence                  INTEGER NOT NULL DEFAULT 0,
    created_at             TEXT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL,
    label       TEXT NOT NULL,
    key_hash    BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE leases (
    integration_id TEXT PRIMARY KEY NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    owner          TEXT NOT NULL,
    fence          INTEGER NOT NULL,
    expires_at     TEXT NOT NULL
);

CREATE TABLE sync_runs (
    id              TEXT PRIMARY KEY NOT NULL,
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    sync_type       TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    ended_at        TEXT,
    pages_fetched   INTEGER NOT NULL DEFAULT 0,
    created_count   INTEGER NOT NULL DEFAULT 0,
    updated_count   INTEGER NOT NULL DEFAULT 0,
    deleted_count   INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    checkpoint      TEXT,
    error           TEXT,
    fence           INTEGER
);

CREATE INDEX sync_runs_by_integration ON sync_runs (integration_id, created_at DESC);

CREATE TABLE records (
    integration_id    TEXT NOT NULL,
    model             TEXT NOT NULL,
    id                TEXT NOT NULL,
    remote_id         TEXT NOT NULL,
    parent_id         TEXT,
    data              TEXT NOT NULL,
    remote_data       TEXT,
    content_hash      BLOB NOT NULL,
    remote_created_at TEXT,
    changed_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    remote_deleted_at TEXT,
    PRIMARY KEY (integration_id, model, id)
) WITHOUT ROWID;

CREATE INDEX records_updated ON records (integration_id, model, updated_at);
CREATE INDEX records_parent ON records (integration_id, model, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX records_remote_id ON records (integration_id, model, remote_id);
CREATE INDEX records_by_id ON records (integration_id, id);

CREATE TABLE record_deps (
    integration_id TEXT NOT NULL,
    declared_by    TEXT NOT NULL,
    dependent_id   TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    PRIMARY KEY (integration_id, declared_by, dependent_id, source_id)
) WITHOUT ROWID;

CREATE INDEX record_deps_by_source ON record_deps (integration_id, source_id, dependent_id);

CREATE TABLE run_seen (
    run_id         TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    -- JSON array of the page's record ids.
    ids            TEXT NOT NULL
);

CREATE INDEX run_seen_by_run ON run_seen (integration_id, run_id);

CREATE TABLE changes (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id TEXT NOT NULL,
    model          TEXT NOT NULL,
    record_id      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    run_id         TEXT,
    at             TEXT NOT NULL
);

CREATE INDEX changes_by_integration ON changes (integration_id, seq);
