-- Sync schedules: when each (integration, sync type) is next due, claimed by the scheduler.
--
-- Choices worth knowing:
-- * Schedules live here, not in Redis: Redis may be flushed or restarted, and the scheduler then
--   re-enqueues from these rows. A claim moves `next_due_at` forward in the same statement that
--   selects the row, under `FOR UPDATE SKIP LOCKED`, so replicas racing for the same due row
--   never both get it; rows another replica holds are skipped, not waited for.
-- * `every_seconds` is the default interval the engine computed for the tool
--   (ensure_schedules); `override_every_seconds` is an operator's per-integration choice and wins
--   when set. Keeping both means clearing an override returns to the current default, and a
--   changed default reaches every row without touching overrides.
-- * `webhooks_active` sits on `integrations`, not on the schedule rows: it is a fact about the
--   integration (its inbound webhooks deliver changes), it applies to every sync type at once,
--   including types whose rows are created later, and one UPDATE flips it. While it is true,
--   rows without an override are polled every 24 h (the store's WEBHOOK_POLL_INTERVAL).
-- * Intervals are whole seconds (bigint), so `next_due_at + every * interval '1 second'` is exact
--   and both backends compute identical instants.
-- * The table is small (a few rows per integration), so it cascades from integrations like
--   leases and sync_runs do.

ALTER TABLE integrations ADD COLUMN webhooks_active boolean NOT NULL DEFAULT false;

CREATE TABLE sync_schedules (
    integration_id         text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    sync_type              text NOT NULL,
    every_seconds          bigint NOT NULL CHECK (every_seconds > 0),
    override_every_seconds bigint CHECK (override_every_seconds > 0),
    next_due_at            timestamptz NOT NULL,
    last_claimed_at        timestamptz,
    -- The scheduler replica that made the last claim, for operators.
    claimed_by             text,
    PRIMARY KEY (integration_id, sync_type)
);

-- claim_due_syncs: WHERE next_due_at <= now ORDER BY next_due_at, integration_id, sync_type.
CREATE INDEX sync_schedules_due ON sync_schedules (next_due_at, integration_id, sync_type);
