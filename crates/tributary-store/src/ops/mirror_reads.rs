//! Gateway reads. Record reads open with `begin_read`, which waits for an in-flight page of the
//! integration and then sees it whole (invariant I3): Postgres takes the integration's lock in
//! shared mode, SQLite its single write lock.
//!
//! Nullable parameters are tested with a plain `$3 IS NULL`: sqlx declares each parameter's
//! type to Postgres, so they need no cast (a cast to text would convert a `timestamptz` or a
//! `text[]` on every execution).

use async_trait::async_trait;
use tributary_model::Model;

use crate::codec::filters_json;
use crate::{Change, MirrorReads, RecordQuery, RenderedRow, StoreError, StoredRecord};

/// The columns `rows::record` reads, `remote_data` given as an expression: it is read as text
/// and passed through unparsed (see `RawJson`).
macro_rules! columns {
    ($($remote_data:expr),+) => {
        concat!(
            "model, id, remote_id, parent_id, data, ",
            $($remote_data,)+
            " AS remote_data, remote_created_at, changed_at, updated_at, remote_deleted_at, scope_version"
        )
    };
}

/// What the read API's fast path reads: the id and the stored rendering made under scope
/// version `$12`, if it is ready (the subquery names `records` explicitly: both tables have
/// `integration_id` and `id`).
macro_rules! rendered_columns {
    () => {
        concat!(
            "id, (SELECT p.body FROM rendered p WHERE p.integration_id = records.integration_id ",
            "AND p.id = records.id AND p.scope_version = $12) AS body"
        )
    };
}

/// The general record query's conditions and order, after its select list; `$filters` holds
/// when every filter of `$8` does.
macro_rules! record_where {
    ($($filters:expr),+) => {
        concat!(
            " FROM records WHERE integration_id = $1 AND model = $2 ",
            "AND ($3 IS NULL OR updated_at > $3) ",
            "AND ($4 OR remote_deleted_at IS NULL) ",
            "AND ($5 IS NULL OR id ",
            in_list!("$5"),
            ") AND ($6 IS NULL OR remote_id ",
            in_list!("$6"),
            ") AND ($7 IS NULL OR id > $7) ",
            "AND ($10 IS NULL OR remote_created_at >= $10) ",
            $($filters,)+
            "ORDER BY id LIMIT $9"
        )
    };
}

/// The general record query.
macro_rules! record_query {
    ($($filters:expr),+) => {
        concat!(
            "SELECT ",
            columns!("CASE WHEN $11 THEN ", remote_data_text!(), " END"),
            record_where!($($filters),+)
        )
    };
}

/// The general record query reading each row's stored rendering instead (`rendered_columns!`).
macro_rules! rendered_query {
    ($($filters:expr),+) => {
        concat!("SELECT ", rendered_columns!(), record_where!($($filters),+))
    };
}

/// Record reads on a connection the caller holds: a gateway read transaction, or a write
/// transaction rendering what it wrote (`crate::ops::rendered`). A trait so that the
/// statements expand inside `#[async_trait]` bodies like every other read's.
#[async_trait]
pub(crate) trait ConnReads {
    async fn query_on(&mut self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError>;
    async fn by_parent_on(
        &mut self,
        integration_id: &str,
        model: Model,
        parent_ids: &[String],
    ) -> Result<Vec<StoredRecord>, StoreError>;
}

/// The ids of a query that names its records by id and asks nothing else (the gateway's
/// joins: a page's managers, groups, locations).
fn ids_only(query: &RecordQuery) -> Option<&[String]> {
    match query {
        RecordQuery {
            ids: Some(ids),
            updated_after: None,
            remote_ids: None,
            filters,
            remote_created_after: None,
            after_id: None,
            ..
        } if filters.is_empty() => Some(ids),
        _ => None,
    }
}

per_backend! {
    #[async_trait]
    impl MirrorReads for Store {
        async fn query_records(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError> {
            // Custom plans for the general statement only (see `begin_read`).
            let mut tx = begin_read(&self.pool, &query.integration_id, query.statement_timeout, ids_only(query).is_none()).await?;
            let found = tx.query_on(query).await?;
            tx.commit().await?;
            Ok(found)
        }

        async fn records_by_parent(
            &self,
            integration_id: &str,
            model: Model,
            parent_ids: &[String],
        ) -> Result<Vec<StoredRecord>, StoreError> {
            if parent_ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut tx = begin_read(&self.pool, integration_id, None, false).await?;
            let found = tx.by_parent_on(integration_id, model, parent_ids).await?;
            tx.commit().await?;
            Ok(found)
        }

        /// The page `query` selects, each row with its stored rendering where one made under
        /// `scope_version` is ready: the read API's fast path, one keyset scan.
        async fn rendered_page(&self, query: &RecordQuery, scope_version: i64) -> Result<Vec<RenderedRow>, StoreError> {
            let mut tx = begin_read(&self.pool, &query.integration_id, query.statement_timeout, true).await?;
            let statement = if query.filters.is_empty() {
                rendered_query!("AND ", jsonb!("$8"), " = ", jsonb!("'[]'"), " ")
            } else {
                rendered_query!(record_filters!())
            };
            let found = bind_general(sqlx::query(statement), query)?
                .bind(scope_version)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            found
                .iter()
                .map(|row| {
                    Ok(RenderedRow {
                        id: sqlx::Row::try_get(row, "id")?,
                        body: sqlx::Row::try_get(row, "body")?,
                    })
                })
                .collect()
        }

        async fn count_records(
            &self,
            integration_id: &str,
            model: Model,
            include_deleted: bool,
        ) -> Result<i64, StoreError> {
            let n = sqlx::query_scalar(
                "SELECT count(*) FROM records WHERE integration_id = $1 AND model = $2 AND ($3 OR remote_deleted_at IS NULL)",
            )
            .bind(integration_id)
            .bind(model.as_str())
            .bind(include_deleted)
            .fetch_one(&self.pool)
            .await?;
            Ok(n)
        }

        /// Writers of one integration are serialised (one lock per integration on Postgres, one
        /// writer on SQLite) and take their `seq` values inside the lock, so within an
        /// integration `seq` order is commit order and this plain read never skips a row.
        async fn changes_since(&self, integration_id: &str, after_seq: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT seq, integration_id, model, record_id, kind, run_id, at FROM changes ",
                "WHERE integration_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .bind(integration_id)
            .bind(after_seq)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::change).collect()
        }
    }

    #[async_trait]
    impl ConnReads for Conn {
        /// [`MirrorReads::query_records`] on a connection the caller holds (a read transaction, or
        /// a write transaction rendering what it wrote).
        async fn query_on(&mut self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError> {
            let found = if let Some(ids) = ids_only(query) {
                // A statement without optional predicates, whose generic plan is as good as a
                // custom one, so Postgres does not plan it again on every execution (planning
                // the general statement was a fifth of Postgres' time serving a page of
                // employees).
                sqlx::query(concat!(
                    "SELECT ",
                    columns!("CASE WHEN $6 THEN ", remote_data_text!(), " END"),
                    " FROM records WHERE integration_id = $1 AND model = $2 AND id ",
                    in_list!("$3"),
                    " AND ($4 OR remote_deleted_at IS NULL) ORDER BY id LIMIT $5"
                ))
                .bind(&query.integration_id)
                .bind(query.model.as_str())
                .bind(str_list(ids)?)
                .bind(query.include_deleted)
                .bind(query.limit.max(0))
                .bind(query.with_remote_data)
                .fetch_all(&mut *self)
                .await?
            } else {
                // Custom plans are made on every execution, and the filter clause is most of the
                // planning (measured on a page of 100 employees: 0.25 ms with it, 0.05 ms
                // without), so a query without filters leaves it out; `$8` is then `[]`.
                let statement = if query.filters.is_empty() {
                    record_query!("AND ", jsonb!("$8"), " = ", jsonb!("'[]'"), " ")
                } else {
                    record_query!(record_filters!())
                };
                bind_general(sqlx::query(statement), query)?.fetch_all(&mut *self).await?
            };
            found.iter().map(rows::record).collect()
        }

        /// [`MirrorReads::records_by_parent`] on a connection the caller holds.
        async fn by_parent_on(
            &mut self,
            integration_id: &str,
            model: Model,
            parent_ids: &[String],
        ) -> Result<Vec<StoredRecord>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT ",
                columns!(remote_data_text!()),
                " FROM records WHERE integration_id = $1 AND model = $2 AND parent_id ",
                in_list!("$3"),
                " ORDER BY parent_id, id"
            ))
            .bind(integration_id)
            .bind(model.as_str())
            .bind(str_list(parent_ids)?)
            .fetch_all(&mut *self)
            .await?;
            found.iter().map(rows::record).collect()
        }
    }

    /// The general record query's parameters `$1`..`$11`.
    fn bind_general<'q>(statement: Query<'q>, query: &'q RecordQuery) -> Result<Query<'q>, StoreError> {
        Ok(statement
            .bind(&query.integration_id)
            .bind(query.model.as_str())
            .bind(query.updated_after.map(time))
            .bind(query.include_deleted)
            .bind(query.ids.as_deref().map(str_list).transpose()?)
            .bind(query.remote_ids.as_deref().map(str_list).transpose()?)
            .bind(query.after_id.as_deref())
            .bind(json(&filters_json(query))?)
            .bind(query.limit.max(0))
            .bind(query.remote_created_after.map(time))
            .bind(query.with_remote_data))
    }
}
