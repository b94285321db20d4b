-- Stored renderings (issue 17): each live record's item of its list endpoint, as the read API
-- serves it (Kombo's shape, nested records included), so that a page is one keyset scan of
-- ready bytes instead of a decode, join and render per request.
--
-- Choices worth knowing:
-- * One row per record that has (or awaits) a rendering; `body` NULL means pending. A mirror
--   write marks pending, in its own transaction, every record it changed, the records whose
--   rendering nests or names one of them (`render_deps`) and the parents of what it wrote
--   (a new employment changes its employee's `employments`), then renders what is pending in
--   the same transaction. A reader never trusts a pending row, nor one rendered under another
--   scope version (`scope_version`): it renders those live, so a missing or stale rendering
--   costs time, never correctness.
-- * `render_deps` are the renderer's own dependencies, not `record_deps`: a rendering nests
--   its groups' names, while Kombo's rules (and `record_deps`) do not move an employee's
--   `updated_at` when a group is renamed. They include ids a rendering named but the mirror
--   does not hold yet (a manager on a later page), so the rendering follows when it arrives.
-- * No foreign keys, like the other high-volume tables; deleting an integration deletes its
--   rows here too.

CREATE TABLE rendered (
    integration_id text NOT NULL,
    id             text COLLATE "C" NOT NULL,
    scope_version  bigint NOT NULL DEFAULT 0,
    body           text,
    PRIMARY KEY (integration_id, id)
);
ALTER TABLE rendered ALTER COLUMN body SET COMPRESSION lz4;

-- What a write still has to render, found without scanning the integration's renderings.
CREATE INDEX rendered_pending ON rendered (integration_id, id) WHERE body IS NULL;

CREATE TABLE render_deps (
    integration_id text NOT NULL,
    source_id      text COLLATE "C" NOT NULL,
    dependent_id   text COLLATE "C" NOT NULL,
    PRIMARY KEY (integration_id, source_id, dependent_id)
);

-- Replacing a rendering's dependencies.
CREATE INDEX render_deps_by_dependent ON render_deps (integration_id, dependent_id);
