-- Runs for the fleet on SQLite (embedded mode). Same columns, indexes and meaning as
-- migrations/postgres/0003_fleet.sql; see the choices explained there. Differences:
--
-- * SQLite adds one column per ALTER TABLE statement.
-- * `resume_at` and the `ended_at` of superseded runs are the fixed-width TEXT of 0001.
--   strftime's `%f` keeps milliseconds only (`SS.SSS`), so three zeros pad it to the six
--   fractional digits every stored instant has.
-- * SQLite accepts the same partial-index conflict target
--   (`ON CONFLICT (integration_id, sync_type) WHERE <open> DO NOTHING`) as long as its WHERE is
--   spelled as the index's is; the store uses the identical text.

ALTER TABLE sync_runs ADD COLUMN worker_id TEXT;
ALTER TABLE sync_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN pause_reason TEXT;
ALTER TABLE sync_runs ADD COLUMN preempted_by TEXT;
ALTER TABLE sync_runs ADD COLUMN resume_at TEXT;

UPDATE sync_runs
SET state = 'CANCELLED', error = 'superseded', ended_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
WHERE state IN ('QUEUED', 'RUNNING', 'PAUSED')
  AND EXISTS (
      SELECT 1 FROM sync_runs n
      WHERE n.integration_id = sync_runs.integration_id AND n.sync_type = sync_runs.sync_type
        AND n.state IN ('QUEUED', 'RUNNING', 'PAUSED')
        AND (n.created_at, n.id) > (sync_runs.created_at, sync_runs.id)
  );

CREATE UNIQUE INDEX sync_runs_one_open ON sync_runs (integration_id, sync_type)
    WHERE state IN ('QUEUED', 'RUNNING', 'PAUSED');

CREATE INDEX sync_runs_open ON sync_runs (created_at, id)
    WHERE state IN ('QUEUED', 'RUNNING', 'PAUSED');
