-- What the operator API needs: pausing a schedule, searching runs across integrations, and each
-- integration's health. The reasons are in postgres/0011_operator.sql; the same here, with
-- instants as fixed-width text.

ALTER TABLE sync_schedules ADD COLUMN paused_at text;

DROP INDEX sync_schedules_due;
CREATE INDEX sync_schedules_due ON sync_schedules (next_due_at, integration_id, sync_type)
    WHERE paused_at IS NULL;

CREATE INDEX sync_runs_created ON sync_runs (created_at, id);
CREATE INDEX sync_runs_state_created ON sync_runs (state, created_at, id);
CREATE INDEX sync_runs_outcomes ON sync_runs (integration_id, state, ended_at);
