-- Join digests: `data-changed` lists Kombo's join tables (hris_join_employees_teams,
-- ats_join_candidates_tags, ats_join_interviews_users, ats_join_jobs_users,
-- ats_join_jobs_application_stages) when a run adds or removes a membership.
--
-- Choices worth knowing:
-- * The mirror keeps memberships inside the records (id lists in `data`, a stage's
--   parent_id), so records.join_digest holds, per record of a model with joins, a JSON object
--   from join name to a digest of the record's sorted, distinct member ids (joins without
--   members left out; '{}' means "no members"). It is computed in Rust by the shared page
--   planning (crates/tributary-store/src/joins.rs) and written by the same upsert as the record.
--   Records of models without joins keep NULL.
-- * apply_page already reads each page id's content_hash to classify it; it reads join_digest in
--   that same statement, so a join change costs no extra round trip. sweep_deletions and
--   delete_model return the digest of the rows they mark deleted: a deleted row with members
--   removes them.
-- * Rows written before this migration have join_digest NULL, which means UNKNOWN, not "no
--   members": an update from NULL reports no join change, and neither does deleting such a row.
--   Otherwise the first sync after the upgrade would announce every join of every changed record.
--   The digest fills in as records change; a record created (or reappearing) reports the joins
--   it has members in.
-- * sync_runs.changed_joins accumulates the join names a run changed, beside changed_models
--   (same writers, same write lock), so finish_run builds `data-changed` from both without
--   reading the change log. A second column keeps changed_models a list of model names.

ALTER TABLE records ADD COLUMN join_digest text;

ALTER TABLE sync_runs ADD COLUMN changed_joins text[] NOT NULL DEFAULT '{}';
