-- What the operator API needs: pausing a schedule, searching runs across integrations, and each
-- integration's health.
--
-- Choices worth knowing:
-- * A paused schedule keeps its row, interval and `next_due_at`; `paused_at` set means the
--   scheduler's claim skips it. Resuming clears it and leaves `next_due_at` as it was, so the
--   schedule fires at its normal time, or at once (one claim, as for any missed interval) when
--   the pause outlasted it. The claim's index becomes partial, so paused rows cost it nothing.
-- * Runs search walks newest first on (created_at, id), the one ordering no run ever leaves
--   (`started_at` is set later, and a state changes), so a cursor stays valid while runs are
--   inserted and change state. One index serves the walk over all runs, one the walk within a
--   state (the console's "failed runs"); the walk within an integration already has
--   sync_runs_by_integration (0001).
-- * Health reads, per integration, its newest success and newest failure by `ended_at`.

ALTER TABLE sync_schedules ADD COLUMN paused_at timestamptz;

DROP INDEX sync_schedules_due;
CREATE INDEX sync_schedules_due ON sync_schedules (next_due_at, integration_id, sync_type)
    WHERE paused_at IS NULL;

CREATE INDEX sync_runs_created ON sync_runs (created_at, id);
CREATE INDEX sync_runs_state_created ON sync_runs (state, created_at, id);
CREATE INDEX sync_runs_outcomes ON sync_runs (integration_id, state, ended_at);
