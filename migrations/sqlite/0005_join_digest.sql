-- Join digests on SQLite (embedded mode). Same columns and meaning as
-- migrations/postgres/0005_join_digest.sql; see the choices explained there, in particular that
-- a NULL join_digest (a row written before this migration) is UNKNOWN: an update from NULL
-- reports no join change, so the first sync after the upgrade does not flood `data-changed` with
-- joins. Differences: join_digest is the same JSON text; changed_joins is a JSON array in TEXT,
-- like changed_models.

ALTER TABLE records ADD COLUMN join_digest TEXT;

ALTER TABLE sync_runs ADD COLUMN changed_joins TEXT NOT NULL DEFAULT '[]';
