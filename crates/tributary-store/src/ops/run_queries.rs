//! The statements on `sync_runs` that the operations on runs (`crate::ops::runs`) share with
//! other written-once code: expanded per dialect like `per_dialect!` (with `rows`), importing no
//! backend module, so that any module can use it without an import cycle.

use tributary_model::SyncType;

use crate::{StoreError, SyncRun, clock, ids};

macro_rules! run_columns {
    () => {
        "id, integration_id, sync_type, state, created_at, started_at, ended_at, pages_fetched, created_count, \
         updated_count, deleted_count, unchanged_count, checkpoint, error, fence, worker_id, attempts, \
         pause_reason, preempted_by, resume_at, unconfirmed_deletions, trace_context"
    };
}
pub(crate) use run_columns;

/// The open states, spelled exactly as the predicate of `sync_runs_one_open` (invariant I5):
/// an `ON CONFLICT ... WHERE` target names a partial index by repeating its predicate (SQLite
/// compares the expressions; Postgres needs them implied).
macro_rules! open_states {
    () => {
        "state IN ('QUEUED', 'RUNNING', 'PAUSED')"
    };
}
pub(crate) use open_states;

/// Inserts a new QUEUED run of an existing integration (no row when it does not exist); the
/// callers add their conflict clause and `RETURNING`. The SELECT's WHERE also keeps SQLite from
/// parsing a following `ON CONFLICT` as a join constraint.
macro_rules! insert_queued {
    () => {
        concat!(
            "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) ",
            "SELECT $1, id, $3, 'QUEUED', $4 FROM integrations WHERE id = $2 "
        )
    };
}
pub(crate) use insert_queued;

/// The statements of one dialect: `per_dialect!`'s expansion, with that dialect's `rows`
/// (which `per_dialect!` cannot bring in without tying `crate::dialect` to `crate::ops`).
macro_rules! run_queries {
    ($dialect:ident) => {
        pub(crate) mod $dialect {
            use super::*;
            use crate::dialect::$dialect::*;
            use crate::ops::rows::$dialect as rows;

            /// Where a read runs: the pool, or the caller's connection or transaction.
            pub(crate) trait Exec<'c>:
                sqlx::Executor<'c, Database = <Conn as sqlx::Connection>::Database>
            {
            }
            impl<'c, E: sqlx::Executor<'c, Database = <Conn as sqlx::Connection>::Database>> Exec<'c> for E {}

            pub(crate) async fn get(conn: impl Exec<'_>, run_id: &str) -> Result<Option<SyncRun>, StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM sync_runs WHERE id = $1"
                ))
                .bind(run_id)
                .fetch_optional(conn)
                .await?;
                row.as_ref().map(rows::run).transpose()
            }

            /// The newest open run of the pair.
            pub(crate) async fn open(
                conn: impl Exec<'_>,
                integration_id: &str,
                sync_type: SyncType,
            ) -> Result<Option<SyncRun>, StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM sync_runs WHERE integration_id = $1 AND sync_type = $2 AND ",
                    open_states!(),
                    " ORDER BY created_at DESC, id DESC LIMIT 1"
                ))
                .bind(integration_id)
                .bind(sync_type.as_str())
                .fetch_optional(conn)
                .await?;
                row.as_ref().map(rows::run).transpose()
            }

            /// A new QUEUED run of the pair, or nothing when another is open (or the integration is
            /// missing); the caller maps the error (`insert_error`).
            pub(crate) async fn insert_open(
                conn: &mut Conn,
                integration_id: &str,
                sync_type: SyncType,
            ) -> Result<Option<Row>, sqlx::Error> {
                sqlx::query(concat!(
                    insert_queued!(),
                    "ON CONFLICT (integration_id, sync_type) WHERE ",
                    open_states!(),
                    " DO NOTHING RETURNING ",
                    run_columns!()
                ))
                .bind(ids::random_id())
                .bind(integration_id)
                .bind(sync_type.as_str())
                .bind(time(clock::now()))
                .fetch_optional(conn)
                .await
            }
        }
    };
}
run_queries!(postgres);
run_queries!(sqlite);
