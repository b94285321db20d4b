//! Sync runs: their life cycle, counts and checkpoints, and what runs there were.
//!
//! At most one run per (integration, sync type) is open (invariant I5): the partial unique
//! index `sync_runs_one_open` (migration 0003) enforces it, and [`enqueue_in`] inserts against
//! it with `ON CONFLICT ... DO NOTHING`. On Postgres a conflicting insert waits for the
//! transaction that wrote the other open run and then does nothing, so concurrent callers end
//! up with one run (see <https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT>);
//! on SQLite it runs under the write lock, so its insert-or-read cannot interleave with another
//! writer (see <https://www.sqlite.org/lang_upsert.html> for the partial-index conflict target).

use async_trait::async_trait;
use tributary_model::{PauseReason, RunState, SyncType, Timestamp};

use crate::ops::run_queries::{insert_queued, open_states, run_columns};
use crate::roles::{RunHistory, Runs};
use crate::{PauseInfo, RunSearch, RunWrite, StoreError, SyncRun, clock, ids, page};

/// How often [`enqueue_in`] tries again when the open run its insert collided with ended before
/// it could read that run (Postgres, under READ COMMITTED; SQLite's write lock leaves no such
/// gap). Each retry needs another caller to have opened and ended a run of the same pair in
/// between, so a handful is plenty.
const ENQUEUE_ATTEMPTS: usize = 4;

/// A second open run of the pair (the index of I5) is the caller's conflict, and a missing
/// integration (deleted while we inserted: the foreign key) is not found; neither is a database
/// failure. SQLite names no constraint; its only other unique key is the random run id.
fn insert_error(e: sqlx::Error, integration_id: &str, sync_type: SyncType) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() && db.constraint().is_none_or(|c| c == "sync_runs_one_open") {
            return StoreError::Conflict(format!(
                "an open {} run of integration {integration_id}",
                sync_type.as_str()
            ));
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound(format!("integration {integration_id}"));
        }
    }
    StoreError::Database(e)
}

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

    use std::collections::HashMap;

    /// The open run of the pair, or a new QUEUED one (`true`), on the caller's write
    /// transaction (alone, or `claim_due_runs`'s). On Postgres each statement reads the latest
    /// commits (READ COMMITTED), so after a conflict the next statement sees the run that caused
    /// it.
    pub(crate) async fn enqueue_in(
        conn: &mut Conn,
        integration_id: &str,
        sync_type: SyncType,
    ) -> Result<(SyncRun, bool), StoreError> {
        for _ in 0..ENQUEUE_ATTEMPTS {
            let inserted = run_queries::insert_open(&mut *conn, integration_id, sync_type)
                .await
                .map_err(|e| insert_error(e, integration_id, sync_type))?;
            if let Some(row) = inserted {
                return Ok((rows::run(&row)?, true));
            }
            if let Some(open) = run_queries::open(&mut *conn, integration_id, sync_type).await? {
                return Ok((open, false));
            }
            // Nothing inserted and nothing open: the integration is missing, or (Postgres) the
            // run we collided with has ended since; then the next insert succeeds (or meets a
            // newer open run).
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM integrations WHERE id = $1")
                .bind(integration_id)
                .fetch_optional(&mut *conn)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("integration {integration_id}")));
            }
        }
        Err(StoreError::Conflict(format!(
            "a {} run of integration {integration_id} that kept ending while it was enqueued",
            sync_type.as_str()
        )))
    }

    /// [`enqueue_in`] for many pairs: one INSERT for all of them (the scheduler claims a
    /// thousand at a time, and a round trip per run made the claim the slow part of a tick); the
    /// pairs that already had an open run take [`enqueue_in`]'s path, which reads it.
    pub(crate) async fn enqueue_many_in(
        conn: &mut Conn,
        pairs: &[(String, SyncType)],
    ) -> Result<Vec<(SyncRun, bool)>, StoreError> {
        let ids: Vec<String> = pairs.iter().map(|_| ids::random_id()).collect();
        let integrations: Vec<&str> = pairs.iter().map(|(i, _)| i.as_str()).collect();
        let types: Vec<&str> = pairs.iter().map(|(_, t)| t.as_str()).collect();
        // `WHERE true`: without a WHERE, SQLite would read ON CONFLICT as a join constraint.
        let inserted = sqlx::query(concat!(
            "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) ",
            "SELECT u.id, u.integration_id, u.sync_type, 'QUEUED', $4 FROM ",
            text_rows!("u": "$1" as "id", "$2" as "integration_id", "$3" as "sync_type"),
            " JOIN integrations i ON i.id = u.integration_id WHERE true ",
            "ON CONFLICT (integration_id, sync_type) WHERE ",
            open_states!(),
            " DO NOTHING RETURNING ",
            run_columns!()
        ))
        .bind(strings(&ids)?)
        .bind(strings(&integrations)?)
        .bind(strings(&types)?)
        .bind(time(clock::now()))
        .fetch_all(&mut *conn)
        .await?;
        let mut created: HashMap<(String, SyncType), SyncRun> = HashMap::with_capacity(inserted.len());
        for row in &inserted {
            let run = rows::run(row)?;
            created.insert((run.integration_id.clone(), run.sync_type), run);
        }
        let mut out = Vec::with_capacity(pairs.len());
        for (integration_id, sync_type) in pairs {
            match created.remove(&(integration_id.clone(), *sync_type)) {
                Some(run) => out.push((run, true)),
                None => out.push(enqueue_in(&mut *conn, integration_id, *sync_type).await?),
            }
        }
        Ok(out)
    }


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
                .map_err(|e| insert_error(e, integration_id, sync_type))?;
            match row {
                Some(row) => rows::run(&row),
                None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
            }
        }

        async fn enqueue_run(&self, integration_id: &str, sync_type: SyncType) -> Result<(SyncRun, bool), StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            let enqueued = enqueue_in(&mut tx, integration_id, sync_type).await?;
            tx.commit().await?;
            Ok(enqueued)
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

        /// The optional filters are `NULL`-guarded parameters, so one statement (and one cached
        /// plan) serves every combination. `started_at >= created_at` always, so bounding
        /// `created_at` by `started_before` too narrows the index walk without changing the
        /// answer.
        async fn search_runs(&self, search: &RunSearch) -> Result<Vec<SyncRun>, StoreError> {
            let states: Vec<&str> = search.states.iter().map(|s| s.as_str()).collect();
            let found = sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM sync_runs WHERE ($1 IS NULL OR state ",
                in_list!("$1"),
                ") AND (CAST($2 AS TEXT) IS NULL OR sync_type = $2) ",
                "AND (CAST($3 AS TEXT) IS NULL OR integration_id IN (SELECT id FROM integrations WHERE tool = $3)) ",
                "AND (CAST($4 AS TEXT) IS NULL OR integration_id = $4) ",
                "AND ($5 IS NULL OR started_at >= $5) ",
                "AND ($6 IS NULL OR (started_at < $6 AND created_at < $6)) ",
                "AND (CAST($7 AS TEXT) IS NULL OR created_at < $8 OR (created_at = $8 AND id < $7)) ",
                "ORDER BY created_at DESC, id DESC LIMIT $9"
            ))
            .bind(if states.is_empty() { None } else { Some(str_list(&states)?) })
            .bind(search.sync_type.map(SyncType::as_str))
            .bind(search.tool.map(|t| t.as_str()))
            .bind(search.integration_id.as_deref())
            .bind(search.started_after.map(|at| time(clock::truncate(at))))
            .bind(search.started_before.map(|at| time(clock::truncate(at))))
            .bind(search.after.as_ref().map(|k| k.id.as_str()))
            .bind(search.after.as_ref().map(|k| time(k.created_at)))
            .bind(search.limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::run).collect()
        }
    }
}
