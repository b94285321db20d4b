//! A page write's upsert (the write itself is `write_page` in `crate::ops::mirror_writes`; its
//! edge work and bookkeeping, one statement each on Postgres, are `backend::pages`): changed
//! records go in one `INSERT ... SELECT` from the page's rows (`page_records!`: `UNNEST` of an
//! array per column on Postgres, `json_each` of one JSON array of rows on SQLite).

use tributary_model::Timestamp;

use crate::{ChangeKind, PreparedRecord, StoreError};

per_backend! {
    /// One statement for the whole batch; `changed_at = updated_at = now`, and a reappearing
    /// record is undeleted. `join_digests` (parallel to `writes`) replace the stored ones: the
    /// join change was already decided from the digests the existing read returned. `WHERE
    /// true`: without a WHERE, SQLite would read ON CONFLICT as a join constraint.
    pub(crate) async fn upsert(
        conn: &mut Conn,
        integration_id: &str,
        writes: &[(PreparedRecord, ChangeKind)],
        join_digests: &[Option<String>],
        scope_version: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(concat!(
            "INSERT INTO records (integration_id, model, id, remote_id, parent_id, data, remote_data, content_hash, ",
            "remote_created_at, changed_at, updated_at, remote_deleted_at, join_digest, scope_version) ",
            "SELECT CAST($1 AS TEXT), u.model, u.id, u.remote_id, u.parent_id, u.data, u.remote_data, u.content_hash, ",
            "u.remote_created_at, $2, $2, NULL, u.join_digest, $3 FROM ",
            page_records!(),
            " WHERE true ON CONFLICT (integration_id, model, id) DO UPDATE SET remote_id = excluded.remote_id, ",
            "parent_id = excluded.parent_id, data = excluded.data, remote_data = excluded.remote_data, ",
            "content_hash = excluded.content_hash, remote_created_at = excluded.remote_created_at, ",
            "changed_at = excluded.changed_at, updated_at = excluded.updated_at, remote_deleted_at = NULL, ",
            "join_digest = excluded.join_digest, scope_version = excluded.scope_version"
        ))
        .bind(integration_id)
        .bind(time(now))
        .bind(scope_version);
        bind_page_records(query, writes, join_digests)?.execute(conn).await?;
        Ok(())
    }
}
