-- Webhooks on SQLite (embedded mode). Same tables and meaning as
-- migrations/postgres/0004_webhooks.sql; see the choices explained there. Differences:
--
-- * Timestamps are the fixed-width TEXT of 0001, so `next_attempt_at <= ?` compares instants.
-- * `seq` is an INTEGER PRIMARY KEY AUTOINCREMENT (never reused, so it keeps event order even
--   after deliveries are dropped with their endpoint).
-- * event_types and changed_models are JSON arrays in TEXT; payloads are JSON TEXT.
-- * There is no SKIP LOCKED: claim_deliveries runs under SQLite's single write lock
--   (BEGIN IMMEDIATE), so concurrent claims are serialised and each sees what its predecessors
--   already leased.

ALTER TABLE integrations ADD COLUMN inbound_webhook_secret_ciphertext BLOB;

ALTER TABLE sync_runs ADD COLUMN changed_models TEXT NOT NULL DEFAULT '[]';

CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY NOT NULL,
    environment       TEXT NOT NULL,
    url               TEXT NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    event_types       TEXT NOT NULL DEFAULT '[]',
    created_at        TEXT NOT NULL
);

CREATE INDEX webhook_endpoints_by_environment ON webhook_endpoints (environment, created_at);

CREATE TABLE webhook_events (
    id             TEXT PRIMARY KEY NOT NULL,
    environment    TEXT NOT NULL,
    integration_id TEXT,
    event_type     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    event_id        TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    integration_id  TEXT,
    event_type      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'DELIVERED', 'DEAD')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_pair ON webhook_deliveries (endpoint_id, integration_id, seq);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    at               TEXT NOT NULL,
    status           INTEGER,
    latency_ms       INTEGER NOT NULL,
    response_excerpt TEXT,
    error            TEXT
);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, seq);

CREATE TABLE inbound_deliveries (
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    delivery_key   TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    PRIMARY KEY (integration_id, delivery_key)
) WITHOUT ROWID;
