-- Sync schedules on SQLite (embedded mode). Same tables and meaning as
-- migrations/postgres/0002_schedules.sql; see the choices explained there. Differences:
--
-- * Timestamps are the fixed-width TEXT of 0001, so `next_due_at <= ?` compares instants and the
--   due index orders correctly. The store computes every new `next_due_at` in Rust (SQLite's
--   date functions keep only milliseconds), inside a BEGIN IMMEDIATE transaction.
-- * There is no SKIP LOCKED: a claim runs under SQLite's single write lock, so concurrent
--   claims are serialised and each sees the rows its predecessors already moved forward.
-- * webhooks_active is an INTEGER 0/1.

ALTER TABLE integrations ADD COLUMN webhooks_active INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sync_schedules (
    integration_id         TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    sync_type              TEXT NOT NULL,
    every_seconds          INTEGER NOT NULL CHECK (every_seconds > 0),
    override_every_seconds INTEGER CHECK (override_every_seconds > 0),
    next_due_at            TEXT NOT NULL,
    last_claimed_at        TEXT,
    claimed_by             TEXT,
    PRIMARY KEY (integration_id, sync_type)
) WITHOUT ROWID;

CREATE INDEX sync_schedules_due ON sync_schedules (next_due_at, integration_id, sync_type);
