//! Sync runs: their life cycle, counts and checkpoints, and what runs there were.
//!
//! At most one run per (integration, sync type) is open (invariant I5): the partial unique
//! index `sync_runs_one_open` (migration 0003) enforces it. Enqueueing against it stays per
//! backend (`backend::runs`): Postgres inserts with `ON CONFLICT ... DO NOTHING` under READ
//! COMMITTED and retries when the run it collided with ended before it could read it; SQLite
//! inserts and reads under its write lock, where nothing can interleave.

use async_trait::async_trait;
use tributary_model::{PauseReason, RunState, SyncType, Timestamp};

use crate::ops::run_queries::{insert_queued, open_states, run_columns};
use crate::roles::{RunHistory, Runs};
use crate::{PauseInfo, RunWrite, StoreError, SyncRun, clock, ids, page};

/// Why `start` matched nothing, once the run was found: it ended, or an operator paused it (a
/// worker that read it just before the pause must not override the operator).
fn not_startable(run: &SyncRun) -> StoreError {
    if run.pause_reason == Some(PauseReason::Operator) {
        return StoreError::Invalid(format!("run {} is paused by an operator; resume it first", run.id));
    }
    already_ended(run)
}

fn already_ended(run: &SyncRun) -> StoreError {
    StoreError::Invalid(format!("run {} already ended as {}", run.id, run.state.as_str()))
}

/// Whether a run in `state` (as stored) had ended.
fn ended(state: Option<&str>) -> bool {
    state.and_then(RunState::parse).is_some_and(RunState::is_terminal)
}

per_backend! {
    with [run_queries, events]


    #[async_trait]
    impl Runs for Store {
        /// A plain insert: fails with `Conflict` while another run of the pair is open.
        async fn create_run(&self, integration_id: &str, sync_type: SyncType) -> Result<SyncRun, StoreError> {
            let row = sqlx::query(concat!(insert_queued!(), "RETURNING ", run_columns!()))
                .bind(ids::random_id())
                .bind(integration_id)
                .bind(sync_type.as_str())
                .bind(time(clock::now()))
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| backend::runs::insert_error(e, integration_id, sync_type))?;
            match row {
                Some(row) => rows::run(&row),
                None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
            }
        }

        async fn enqueue_run(&self, integration_id: &str, sync_type: SyncType) -> Result<(SyncRun, bool), StoreError> {
            backend::runs::enqueue(&self.pool, integration_id, sync_type).await
        }

        /// `started_at` is set only the first time: a resumed run keeps its original start,
        /// which is what protects records written during its pauses from the sweep. The pause
        /// fields go: they describe a pause that is over.
        async fn start_run(&self, run_id: &str, fence: i64, worker_id: &str) -> Result<SyncRun, StoreError> {
            let row = sqlx::query(concat!(
                "UPDATE sync_runs SET state = 'RUNNING', fence = $2, started_at = COALESCE(started_at, $3), worker_id = $4, ",
                // The scope version of the run's pass is taken once, at its first start: a run
                // resumed after a scope change keeps the older one, so its pages are refused and
                // it restarts.
                "scope_version = COALESCE(scope_version, (SELECT i.scope_version FROM integrations i WHERE i.id = sync_runs.integration_id)), ",
                "pause_reason = NULL, preempted_by = NULL, resume_at = NULL WHERE id = $1 AND pause_reason IS DISTINCT FROM 'OPERATOR' AND ",
                open_states!(),
                " RETURNING ",
                run_columns!()
            ))
            .bind(run_id)
            .bind(fence)
            .bind(time(clock::now()))
            .bind(worker_id)
            .fetch_optional(&self.pool)
            .await?;
            match row {
                Some(row) => rows::run(&row),
                None => match run_queries::get(&self.pool, run_id).await? {
                    Some(run) => Err(not_startable(&run)),
                    None => Err(StoreError::NotFound(format!("run {run_id}"))),
                },
            }
        }

        /// `error` becomes `info.error` (also when `None`), so a stale error does not outlive
        /// the pause it explained. Only an open run pauses: reopening an ended one could break I5.
        async fn pause_run(&self, run: &RunWrite, info: &PauseInfo) -> Result<(), StoreError> {
            let mut tx = begin_fenced(&self.pool, &run.integration_id, run.fence).await?;
            let done = sqlx::query(concat!(
                "UPDATE sync_runs SET state = 'PAUSED', pause_reason = $3, preempted_by = $4, resume_at = $5, error = $6, ",
                "attempts = attempts + $7 WHERE id = $1 AND integration_id = $2 AND ",
                open_states!()
            ))
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .bind(info.reason.as_str())
            .bind(&info.preempted_by)
            .bind(info.resume_at.map(|at| time(clock::truncate(at))))
            .bind(&info.error)
            .bind(i32::from(info.reason == PauseReason::Retry))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(match run_queries::get(&mut *tx, &run.run_id).await? {
                    Some(found) if found.integration_id == run.integration_id => already_ended(&found),
                    _ => StoreError::NotFound(format!("run {}", run.run_id)),
                });
            }
            tx.commit().await?;
            Ok(())
        }

        async fn cancel_idle_run(&self, run_id: &str, reason: &str) -> Result<bool, StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            let row = sqlx::query(concat!(
                "UPDATE sync_runs SET state = 'CANCELLED', error = $2, ended_at = $3, pause_reason = NULL, ",
                "preempted_by = NULL, resume_at = NULL WHERE id = $1 AND state IN ('QUEUED', 'PAUSED') RETURNING ",
                run_columns!()
            ))
            .bind(run_id)
            .bind(reason)
            .bind(time(clock::now()))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(false);
            };
            let cancelled = rows::run(&row)?;
            // A paused run has committed pages: its changes are announced like any ended run's,
            // in this transaction (I7). A run cancelled while still queued never ran and
            // announces nothing.
            if cancelled.started_at.is_some() {
                events::emit_run_finished(&mut tx, &cancelled).await?;
            }
            tx.commit().await?;
            Ok(true)
        }

        async fn pause_idle_run(&self, run_id: &str) -> Result<bool, StoreError> {
            let done = sqlx::query(concat!(
                "UPDATE sync_runs SET state = 'PAUSED', pause_reason = $2, preempted_by = NULL, resume_at = NULL ",
                "WHERE id = $1 AND (state = 'QUEUED' OR (state = 'PAUSED' AND pause_reason IS DISTINCT FROM $2))"
            ))
            .bind(run_id)
            .bind(PauseReason::Operator.as_str())
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Ready to resume: no reason, and with it no preempting run or retry instant.
        async fn resume_paused_run(&self, run_id: &str) -> Result<bool, StoreError> {
            let done = sqlx::query(concat!(
                "UPDATE sync_runs SET pause_reason = NULL, preempted_by = NULL, resume_at = NULL ",
                "WHERE id = $1 AND state = 'PAUSED'"
            ))
            .bind(run_id)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        async fn finish_run(&self, run: &RunWrite, state: RunState, error: Option<&str>) -> Result<SyncRun, StoreError> {
            if !state.is_terminal() {
                return Err(StoreError::Invalid(format!("{} is not a terminal state", state.as_str())));
            }
            let (mut tx, scope_version) = begin_fenced_scope(&self.pool, &run.integration_id, run.fence).await?;
            let previous: Option<(String, Option<i64>)> =
                sqlx::query_as("SELECT state, scope_version FROM sync_runs WHERE id = $1 AND integration_id = $2")
                    .bind(&run.run_id)
                    .bind(&run.integration_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (previous, pass) = previous.map_or((None, None), |(state, pass)| (Some(state), pass));
            // A run that had ended already announced its end then (a repeated finish sends
            // nothing twice) and was judged then.
            let had_ended = ended(previous.as_deref());
            if state == RunState::Succeeded && !had_ended {
                // A complete run ends SUCCEEDED only if its pass rewrote every record under the
                // scope in force now.
                page::check_scope(run, scope_version, scope_version, pass)?;
            }
            let row = sqlx::query(concat!(
                "UPDATE sync_runs SET state = $3, error = $4, ended_at = $5 WHERE id = $1 AND integration_id = $2 RETURNING ",
                run_columns!()
            ))
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .bind(state.as_str())
            .bind(error)
            .bind(time(clock::now()))
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.ok_or_else(|| StoreError::NotFound(format!("run {}", run.run_id)))?;
            let finished = rows::run(&row)?;
            // The outbox, in this transaction: a fenced or failed finish writes no event.
            if !had_ended {
                events::emit_run_finished(&mut tx, &finished).await?;
            }
            tx.commit().await?;
            Ok(finished)
        }
    }

    #[async_trait]
    impl RunHistory for Store {
        async fn get_run(&self, run_id: &str) -> Result<Option<SyncRun>, StoreError> {
            run_queries::get(&self.pool, run_id).await
        }

        async fn open_run(&self, integration_id: &str, sync_type: SyncType) -> Result<Option<SyncRun>, StoreError> {
            run_queries::open(&self.pool, integration_id, sync_type).await
        }

        async fn list_open_runs(&self, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM sync_runs WHERE ",
                open_states!(),
                " ORDER BY created_at, id LIMIT $1"
            ))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::run).collect()
        }

        async fn list_runs(&self, integration_id: &str, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM sync_runs WHERE integration_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(integration_id)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::run).collect()
        }

        async fn last_succeeded_run(&self, integration_id: &str) -> Result<Option<SyncRun>, StoreError> {
            let row = sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM sync_runs WHERE integration_id = $1 AND state = 'SUCCEEDED' ",
                "ORDER BY started_at DESC NULLS LAST, created_at DESC LIMIT 1"
            ))
            .bind(integration_id)
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(rows::run).transpose()
        }

        /// The maximum of instants as each dialect keeps them: SQLite's fixed-width UTC text
        /// orders as time does.
        async fn last_complete_success(&self, integration_id: &str) -> Result<Option<Timestamp>, StoreError> {
            let row = sqlx::query(
                "SELECT max(COALESCE(started_at, created_at)) AS at FROM sync_runs \
                 WHERE integration_id = $1 AND state = 'SUCCEEDED' AND sync_type IN ('FULL', 'DEFAULT')",
            )
            .bind(integration_id)
            .fetch_one(&self.pool)
            .await?;
            get_opt_time(&row, "at")
        }
    }
}
