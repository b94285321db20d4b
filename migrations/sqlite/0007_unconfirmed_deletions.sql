-- Deletion candidates a complete run could not confirm absent at the source (invariant I1:
-- not being seen is no proof). They stay live; the count tells operators why.
ALTER TABLE sync_runs ADD COLUMN unconfirmed_deletions INTEGER NOT NULL DEFAULT 0;
