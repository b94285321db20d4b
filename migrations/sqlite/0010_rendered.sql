-- Stored renderings on SQLite (embedded mode). Same tables and meaning as
-- migrations/postgres/0012_rendered.sql; see the choices explained there. Differences: TEXT
-- compares bytewise (BINARY), the order Postgres gets from COLLATE "C"; no compression setting.

CREATE TABLE rendered (
    integration_id TEXT NOT NULL,
    id             TEXT NOT NULL,
    scope_version  INTEGER NOT NULL DEFAULT 0,
    body           TEXT,
    PRIMARY KEY (integration_id, id)
);

CREATE INDEX rendered_pending ON rendered (integration_id, id) WHERE body IS NULL;

CREATE TABLE render_deps (
    integration_id TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    dependent_id   TEXT NOT NULL,
    PRIMARY KEY (integration_id, source_id, dependent_id)
);

CREATE INDEX render_deps_by_dependent ON render_deps (integration_id, dependent_id);
