-- Scope versions on SQLite (embedded mode). Same columns and meaning as
-- migrations/postgres/0008_scope_version.sql.

ALTER TABLE integrations ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 1;

ALTER TABLE records ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sync_runs ADD COLUMN scope_version INTEGER;
