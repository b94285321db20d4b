//! Marking records deleted: the sweep after a complete run, and a model disabled by scope.

use std::collections::BTreeSet;

use sqlx::{PgConnection, PgPool, Row};
use tributary_model::{Model, Timestamp};

use super::{change_log, dependents, webhooks, write_lock};
use crate::codec::parse_model;
use crate::{ChangeKind, DeletionCandidate, RunWrite, StoreError, Sweep, WriteOutcome, clock, joins};

/// The records a sweep would mark: live records of `models` that no run overlapping this one
/// saw and that nothing wrote since this run started (invariant I1).
///
/// "Saw": this run's pages, plus the pages of every run of the integration that started at or
/// after it — a delta (or another sync) that ran meanwhile proves a record still exists even if
/// this run's listing missed it. "Wrote since": `changed_at >= started_at` means some writer
/// (that delta, an inbound webhook) produced the record after our listing began.
///
/// The unseen ids are a set difference (EXCEPT, hashed or sorted: n log n at worst) rather
/// than `NOT EXISTS (seen)`: right after a bulk load the statistics still call `records`
/// tiny, and the planner then picked a nested-loop anti join that re-read every seen id for
/// each record — 30 s for 10,000 employees. `$5` narrows the records to the confirmed ids
/// when the sweep marks (NULL: every record, when listing candidates).
macro_rules! unseen {
    () => {
        concat!(
            "WITH unseen AS (",
            "  SELECT id FROM records ",
            "  WHERE integration_id = $1 AND model = ANY($4) AND remote_deleted_at IS NULL AND changed_at < $3 ",
            "  AND ($5::text[] IS NULL OR id = ANY($5)) ",
            "  EXCEPT ",
            "  SELECT u.id FROM run_seen s JOIN sync_runs r ON r.id = s.run_id ",
            "  CROSS JOIN LATERAL unnest(s.ids) AS u(id) ",
            "  WHERE s.integration_id = $1 AND (s.run_id = $2 OR r.started_at >= $3)",
            ") "
        )
    };
}

pub(super) async fn candidates(
    pool: &PgPool,
    run: &RunWrite,
    models: &[Model],
) -> Result<Vec<DeletionCandidate>, StoreError> {
    let mut conn = pool.acquire().await?;
    let started_at = run_started_at(&mut conn, run).await?;
    let model_names: Vec<&str> = models.iter().map(|m| m.as_str()).collect();
    let rows = sqlx::query(concat!(
        unseen!(),
        "SELECT model, id, remote_id FROM records ",
        "WHERE integration_id = $1 AND id = ANY(ARRAY(SELECT id FROM unseen)) ",
        "AND model = ANY($4) AND remote_deleted_at IS NULL AND changed_at < $3 ORDER BY model, id"
    ))
    .bind(&run.integration_id)
    .bind(&run.run_id)
    .bind(started_at)
    .bind(model_names)
    .bind(None::<Vec<String>>)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DeletionCandidate {
                model: parse_model(row.try_get("model")?)?,
                id: row.try_get("id")?,
                remote_id: row.try_get("remote_id")?,
            })
        })
        .collect()
}

/// Marks deleted the confirmed ids that are still candidates when this transaction runs (the
/// same rules as [`candidates`], re-checked under the write lock), and stores the run's count of
/// unconfirmed candidates.
pub(super) async fn sweep(pool: &PgPool, run: &RunWrite, sweep: &Sweep<'_>) -> Result<WriteOutcome, StoreError> {
    let integration_id = run.integration_id.as_str();
    let mut tx = pool.begin().await?;
    write_lock::lock_fenced(&mut tx, integration_id, run.fence).await?;
    let now = clock::now();
    let started_at = run_started_at(&mut tx, run).await?;
    let model_names: Vec<&str> = sweep.models.iter().map(|m| m.as_str()).collect();

    // The update probes the few unseen ids by index (ids are unique within an integration).
    let marked = sqlx::query(concat!(
        unseen!(),
        "UPDATE records SET remote_deleted_at = $6, changed_at = $6, updated_at = $6 ",
        "WHERE integration_id = $1 AND id = ANY(ARRAY(SELECT id FROM unseen)) ",
        "AND model = ANY($4) AND remote_deleted_at IS NULL AND changed_at < $3 ",
        "RETURNING model, id, join_digest"
    ))
    .bind(integration_id)
    .bind(&run.run_id)
    .bind(started_at)
    .bind(model_names)
    .bind(sweep.confirmed)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let deleted = marked
        .iter()
        .map(|row| {
            Ok((
                parse_model(row.try_get("model")?)?,
                row.try_get::<String, _>("id")?,
                row.try_get::<Option<String>, _>("join_digest")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let outcome = after_marking(&mut tx, run, deleted, now).await?;
    sqlx::query("UPDATE sync_runs SET unconfirmed_deletions = $3 WHERE id = $1 AND integration_id = $2")
        .bind(&run.run_id)
        .bind(integration_id)
        .bind(sweep.unconfirmed)
        .execute(&mut *tx)
        .await?;

    // The seen ids of finished runs have served their purpose. This run's own rows stay until
    // a later sweep: should the engine sweep again (another set of models) before finishing,
    // they must still protect what this run saw. Open runs keep theirs for their own sweep.
    sqlx::query(concat!(
        "DELETE FROM run_seen s USING sync_runs r WHERE s.integration_id = $1 AND r.id = s.run_id ",
        "AND s.run_id <> $2 AND r.state NOT IN ('QUEUED', 'RUNNING', 'PAUSED')"
    ))
    .bind(integration_id)
    .bind(&run.run_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Marks every live record of `model` deleted: the model was disabled by scope (I6).
pub(super) async fn delete_model(pool: &PgPool, run: &RunWrite, model: Model) -> Result<WriteOutcome, StoreError> {
    let integration_id = run.integration_id.as_str();
    let mut tx = pool.begin().await?;
    write_lock::lock_fenced(&mut tx, integration_id, run.fence).await?;
    let now = clock::now();
    let marked: Vec<(String, Option<String>)> = sqlx::query_as(concat!(
        "UPDATE records SET remote_deleted_at = $3, changed_at = $3, updated_at = $3 ",
        "WHERE integration_id = $1 AND model = $2 AND remote_deleted_at IS NULL RETURNING id, join_digest"
    ))
    .bind(integration_id)
    .bind(model.as_str())
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let deleted = marked.into_iter().map(|(id, digest)| (model, id, digest)).collect();
    let outcome = after_marking(&mut tx, run, deleted, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn run_started_at(conn: &mut PgConnection, run: &RunWrite) -> Result<Timestamp, StoreError> {
    let started: Option<Option<Timestamp>> =
        sqlx::query_scalar("SELECT started_at FROM sync_runs WHERE id = $1 AND integration_id = $2")
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .fetch_optional(conn)
            .await?;
    match started {
        None => Err(StoreError::NotFound(format!("run {}", run.run_id))),
        Some(None) => Err(StoreError::Invalid(format!(
            "run {} never started; it cannot sweep",
            run.run_id
        ))),
        Some(Some(at)) => Ok(at),
    }
}

/// What every deletion does besides setting `remote_deleted_at`: move the dependents (a removed
/// employment moves its employee), log the change, count it on the run.
async fn after_marking(
    conn: &mut PgConnection,
    run: &RunWrite,
    deleted: Vec<(Model, String, Option<String>)>,
    now: Timestamp,
) -> Result<WriteOutcome, StoreError> {
    let mut outcome = WriteOutcome {
        deleted: deleted.len() as i64,
        ..WriteOutcome::default()
    };
    if deleted.is_empty() {
        return Ok(outcome);
    }
    let ids: Vec<String> = deleted.iter().map(|(_, id, _)| id.clone()).collect();
    let dependents = dependents::of(conn, &run.integration_id, &ids).await?;
    let bump = crate::page::dependents_to_bump(&ids, dependents, &[]);
    dependents::bump(conn, &run.integration_id, &bump, now).await?;
    let entries: Vec<(Model, &str, ChangeKind)> = deleted
        .iter()
        .map(|(m, id, _)| (*m, id.as_str(), ChangeKind::Deleted))
        .collect();
    change_log::append(conn, &run.integration_id, &run.run_id, &entries, now).await?;
    sqlx::query("UPDATE sync_runs SET deleted_count = deleted_count + $3 WHERE id = $1 AND integration_id = $2")
        .bind(&run.run_id)
        .bind(&run.integration_id)
        .bind(outcome.deleted)
        .execute(&mut *conn)
        .await?;
    outcome.changed_models = deleted
        .iter()
        .map(|(m, _, _)| *m)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // A deleted row with members removes them from its joins (a NULL digest is unknown).
    let joins: Vec<&str> = deleted
        .iter()
        .flat_map(|(_, _, digest)| joins::removed(digest.as_deref()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    webhooks::note_changed_models(conn, &run.run_id, &run.integration_id, &outcome.changed_models, &joins).await?;
    Ok(outcome)
}
