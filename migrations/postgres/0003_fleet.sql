-- Runs for the fleet: queued by the scheduler, executed by any worker, paused for a reason and
-- resumed or retried later.
--
-- Choices worth knowing:
-- * At most one run per (integration, sync type) is open (QUEUED, RUNNING or PAUSED): invariant
--   I5, enforced by a partial UNIQUE index rather than by the callers. enqueue_run inserts with
--   `ON CONFLICT (integration_id, sync_type) WHERE <open> DO NOTHING` against it, so concurrent
--   schedulers, operators and workers agree on one run without a lock of their own; a plain
--   create_run that collides fails with a unique violation, reported as a conflict.
-- * An older version could leave several open runs of one pair behind (create_run did not
--   check). They are closed before the index is built, or building it would fail: the newest
--   (created_at, then id, as open_run orders) stays open, the others end CANCELLED with the
--   error 'superseded', so operators can tell them from runs someone cancelled.
-- * The pause fields live on the run, not in Redis: who may resume a PAUSED run (the delta that
--   preempted it, an operator, any worker, or the retry clock) must survive a Redis flush.
--   `pause_reason` NULL on a PAUSED run means "ready to resume". `attempts` counts RETRY pauses,
--   so a worker can give up after its maximum.
-- * list_open_runs reads every integration's open runs oldest first: a partial index on the open
--   states keeps that a short index walk however many finished runs pile up.

ALTER TABLE sync_runs
    ADD COLUMN worker_id    text,
    ADD COLUMN attempts     integer NOT NULL DEFAULT 0,
    ADD COLUMN pause_reason text,
    ADD COLUMN preempted_by text,
    ADD COLUMN resume_at    timestamptz;

UPDATE sync_runs r
SET state = 'CANCELLED', error = 'superseded', ended_at = now()
WHERE r.state IN ('QUEUED', 'RUNNING', 'PAUSED')
  AND EXISTS (
      SELECT 1 FROM sync_runs n
      WHERE n.integration_id = r.integration_id AND n.sync_type = r.sync_type
        AND n.state IN ('QUEUED', 'RUNNING', 'PAUSED')
        AND (n.created_at, n.id) > (r.created_at, r.id)
  );

-- Invariant I5; also serves open_run.
CREATE UNIQUE INDEX sync_runs_one_open ON sync_runs (integration_id, sync_type)
    WHERE state IN ('QUEUED', 'RUNNING', 'PAUSED');

-- list_open_runs: WHERE <open> ORDER BY created_at, id.
CREATE INDEX sync_runs_open ON sync_runs (created_at, id)
    WHERE state IN ('QUEUED', 'RUNNING', 'PAUSED');
