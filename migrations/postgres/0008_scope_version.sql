-- Scope is a versioned fact (issue 12).
--
-- integrations.scope_version moves with every change of scope_config. A page of a run is
-- prepared (disabled fields stripped) under one version and the page write refuses it unless
-- that is still the integration's version, inside the same fenced transaction.
--
-- records.scope_version is the version a row's data and remote_data were prepared under. The
-- read API strips disabled fields from remote_data of rows older than the integration's
-- version, so a field disabled after a row was written is never served while it is still
-- stored. Rows written before this migration are 0, older than every integration (1): the
-- read API strips them until a complete sync has rewritten them.
--
-- sync_runs.scope_version is the version the run's current pass started under. A complete
-- run (FULL or DEFAULT) whose pass started under an older version than the integration's is
-- refused its next page and its SUCCEEDED end, so it starts its pass again under the new scope:
-- a scope change always gets a complete pass under it.
ALTER TABLE integrations ADD COLUMN scope_version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE records ADD COLUMN scope_version BIGINT NOT NULL DEFAULT 0;

ALTER TABLE sync_runs ADD COLUMN scope_version BIGINT;
