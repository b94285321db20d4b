//! Marking records deleted: the sweep after a complete run, and a model disabled by scope.
//! Same rules as the Postgres twin (`postgres/deletions.rs`), which explains them.

use std::collections::BTreeSet;

use sqlx::{Row, SqliteConnection, SqlitePool};
use tributary_model::{Model, Timestamp};

use super::{change_log, dependents, webhooks, write_lock};
use crate::codec::parse_model;
use crate::{ChangeKind, DeletionCandidate, RunWrite, StoreError, Sweep, WriteOutcome, clock, joins};

/// The seen set of this run and of every run started after it, then the unseen live records;
/// `?5` narrows them to the confirmed ids when the sweep marks (NULL: every record).
/// MATERIALIZED + NOT IN: SQLite builds the seen set once, as an ephemeral index, instead of
/// re-running json_each per record.
macro_rules! unseen {
    () => {
        concat!(
            "WITH seen(id) AS MATERIALIZED (",
            "  SELECT DISTINCT j.value FROM run_seen s JOIN sync_runs r ON r.id = s.run_id, json_each(s.ids) j ",
            "  WHERE s.integration_id = ?1 AND (s.run_id = ?2 OR r.started_at >= ?3)",
            ") "
        )
    };
}

macro_rules! unseen_records {
    () => {
        concat!(
            "integration_id = ?1 AND model IN (SELECT value FROM json_each(?4)) ",
            "AND remote_deleted_at IS NULL AND changed_at < ?3 AND id NOT IN (SELECT id FROM seen) ",
            "AND (?5 IS NULL OR id IN (SELECT value FROM json_each(?5))) "
        )
    };
}

pub(super) async fn candidates(
    pool: &SqlitePool,
    run: &RunWrite,
    models: &[Model],
) -> Result<Vec<DeletionCandidate>, StoreError> {
    let mut conn = pool.acquire().await?;
    let started_at = run_started_at(&mut conn, run).await?;
    let model_names: Vec<&str> = models.iter().map(|m| m.as_str()).collect();
    let rows = sqlx::query(concat!(
        unseen!(),
        "SELECT model, id, remote_id FROM records WHERE ",
        unseen_records!(),
        "ORDER BY model, id"
    ))
    .bind(&run.integration_id)
    .bind(&run.run_id)
    .bind(clock::to_text(started_at))
    .bind(serde_json::to_string(&model_names)?)
    .bind(None::<String>)
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

pub(super) async fn sweep(pool: &SqlitePool, run: &RunWrite, sweep: &Sweep<'_>) -> Result<WriteOutcome, StoreError> {
    let integration_id = run.integration_id.as_str();
    let mut tx = write_lock::begin_fenced(pool, integration_id, run.fence).await?;
    let now = clock::now();
    let started_at = run_started_at(&mut tx, run).await?;
    let model_names: Vec<&str> = sweep.models.iter().map(|m| m.as_str()).collect();

    let marked = sqlx::query(concat!(
        unseen!(),
        "UPDATE records SET remote_deleted_at = ?6, changed_at = ?6, updated_at = ?6 WHERE ",
        unseen_records!(),
        "RETURNING model, id, join_digest"
    ))
    .bind(integration_id)
    .bind(&run.run_id)
    .bind(clock::to_text(started_at))
    .bind(serde_json::to_string(&model_names)?)
    .bind(serde_json::to_string(sweep.confirmed)?)
    .bind(clock::to_text(now))
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
    sqlx::query("UPDATE sync_runs SET unconfirmed_deletions = ?3 WHERE id = ?1 AND integration_id = ?2")
        .bind(&run.run_id)
        .bind(integration_id)
        .bind(sweep.unconfirmed)
        .execute(&mut *tx)
        .await?;

    sqlx::query(concat!(
        "DELETE FROM run_seen WHERE integration_id = ?1 AND run_id <> ?2 AND run_id IN ",
        "(SELECT id FROM sync_runs WHERE integration_id = ?1 AND state NOT IN ('QUEUED', 'RUNNING', 'PAUSED'))"
    ))
    .bind(integration_id)
    .bind(&run.run_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

pub(super) async fn delete_model(pool: &SqlitePool, run: &RunWrite, model: Model) -> Result<WriteOutcome, StoreError> {
    let integration_id = run.integration_id.as_str();
    let mut tx = write_lock::begin_fenced(pool, integration_id, run.fence).await?;
    let now = clock::now();
    let marked: Vec<(String, Option<String>)> = sqlx::query_as(concat!(
        "UPDATE records SET remote_deleted_at = ?3, changed_at = ?3, updated_at = ?3 ",
        "WHERE integration_id = ?1 AND model = ?2 AND remote_deleted_at IS NULL RETURNING id, join_digest"
    ))
    .bind(integration_id)
    .bind(model.as_str())
    .bind(clock::to_text(now))
    .fetch_all(&mut *tx)
    .await?;
    let deleted = marked.into_iter().map(|(id, digest)| (model, id, digest)).collect();
    let outcome = after_marking(&mut tx, run, deleted, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn run_started_at(conn: &mut SqliteConnection, run: &RunWrite) -> Result<Timestamp, StoreError> {
    let started: Option<Option<String>> =
        sqlx::query_scalar("SELECT started_at FROM sync_runs WHERE id = ?1 AND integration_id = ?2")
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
        Some(Some(at)) => clock::from_text(&at),
    }
}

async fn after_marking(
    conn: &mut SqliteConnection,
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
    sqlx::query("UPDATE sync_runs SET deleted_count = deleted_count + ?3 WHERE id = ?1 AND integration_id = ?2")
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
