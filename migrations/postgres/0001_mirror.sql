-- The mirror's schema on Postgres.
--
-- Choices worth knowing:
-- * Record ids are declared COLLATE "C": gateway pages are keyset walks ordered by id, and byte
--   order is the order SQLite uses, so both backends page identically (and comparisons are
--   cheaper than under a linguistic collation).
-- * The high-volume tables (records, record_deps, run_seen, changes) carry no foreign keys:
--   every write to them already happens under the integration's advisory lock after reading
--   `integrations.fence`, so a row for a missing integration cannot appear, and an FK check per
--   inserted record would cost throughput for nothing. delete_integration removes their rows
--   explicitly. The small tables (leases, sync_runs) cascade.
-- * Timestamps are timestamptz; the store truncates them to microseconds before writing so
--   Postgres and SQLite hand back identical values.
-- * run_seen keeps ONE row per page (an array of ids), not one per record: the sweep unnests
--   them once per run, while apply_page stays a single insert.

CREATE TABLE integrations (
    id                     text PRIMARY KEY,
    tool                   text NOT NULL,
    environment            text NOT NULL,
    base_url               text NOT NULL,
    -- version byte || 24-byte nonce || XChaCha20-Poly1305 ciphertext; never clear text (I8).
    credentials_ciphertext bytea NOT NULL,
    scope_config           jsonb NOT NULL,
    -- Bumped by every lease acquisition; writes carrying another value are rejected (I4).
    fence                  bigint NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    environment text NOT NULL,
    label       text NOT NULL,
    -- Only the caller's hash of the key; the key itself is never stored (I8).
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE leases (
    integration_id text PRIMARY KEY REFERENCES integrations (id) ON DELETE CASCADE,
    owner          text NOT NULL,
    fence          bigint NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE TABLE sync_runs (
    id              text PRIMARY KEY,
    integration_id  text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    sync_type       text NOT NULL,
    state           text NOT NULL,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    ended_at        timestamptz,
    pages_fetched   bigint NOT NULL DEFAULT 0,
    created_count   bigint NOT NULL DEFAULT 0,
    updated_count   bigint NOT NULL DEFAULT 0,
    deleted_count   bigint NOT NULL DEFAULT 0,
    unchanged_count bigint NOT NULL DEFAULT 0,
    checkpoint      jsonb,
    error           text,
    fence           bigint
);

-- list_runs / open_run / last_succeeded_run all read one integration's runs newest first.
CREATE INDEX sync_runs_by_integration ON sync_runs (integration_id, created_at DESC);

CREATE TABLE records (
    integration_id    text NOT NULL,
    model             text NOT NULL,
    id                text COLLATE "C" NOT NULL,
    remote_id         text NOT NULL,
    parent_id         text COLLATE "C",
    data              jsonb NOT NULL,
    remote_data       jsonb,
    -- 16 bytes of SHA-256 over the record's canonical JSON; decides "changed" (I2).
    content_hash      bytea NOT NULL,
    remote_created_at timestamptz,
    changed_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    remote_deleted_at timestamptz,
    -- Also the keyset index of gateway reads: WHERE integration_id, model AND id > $ ORDER BY id.
    PRIMARY KEY (integration_id, model, id)
);

-- updated_after reads.
CREATE INDEX records_updated ON records (integration_id, model, updated_at);
-- Nested records of a parent (an employee's employments).
CREATE INDEX records_parent ON records (integration_id, model, parent_id) WHERE parent_id IS NOT NULL;
-- remote_ids filters.
CREATE INDEX records_remote_id ON records (integration_id, model, remote_id);
-- apply_page looks up a page's ids and bumps dependents by id alone, without knowing their
-- model (ids are unique within an integration: they hash the model in).
CREATE INDEX records_by_id ON records (integration_id, id);

-- Who moves whose updated_at: `declared_by` is the record whose content declared the edge, so a
-- changed record can replace exactly its own edges.
CREATE TABLE record_deps (
    integration_id text NOT NULL,
    declared_by    text COLLATE "C" NOT NULL,
    dependent_id   text COLLATE "C" NOT NULL,
    source_id      text COLLATE "C" NOT NULL,
    PRIMARY KEY (integration_id, declared_by, dependent_id, source_id)
);

-- "Which records depend on these changed ones?" answered from the index alone.
CREATE INDEX record_deps_by_source ON record_deps (integration_id, source_id, dependent_id);

CREATE TABLE run_seen (
    run_id         text NOT NULL,
    integration_id text NOT NULL,
    ids            text[] COLLATE "C" NOT NULL
);

CREATE INDEX run_seen_by_run ON run_seen (integration_id, run_id);

CREATE TABLE changes (
    seq            bigserial PRIMARY KEY,
    integration_id text NOT NULL,
    model          text NOT NULL,
    record_id      text NOT NULL,
    kind           text NOT NULL,
    run_id         text,
    at             timestamptz NOT NULL
);

-- Writes of one integration are serialised by its advisory lock, so within an integration seq
-- order is commit order and changes_since never skips a row.
CREATE INDEX changes_by_integration ON changes (integration_id, seq);
