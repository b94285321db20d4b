//! Webhooks on SQLite: the same outbox as the Postgres twin (see its comments), with
//! timestamps and JSON as TEXT and claims serialised by SQLite's write lock (`BEGIN IMMEDIATE`)
//! instead of `SKIP LOCKED`.

use std::time::Duration;

use sqlx::{Row, SqliteConnection, SqlitePool};
use tributary_model::{Model, RunState, Timestamp, ToolKind};

use super::write_lock;
use crate::clock::{from_text, to_text};
use crate::codec::{delivery_state_str, parse_model, parse_state, parse_tool};
use crate::webhook_payloads::{self as payloads, NewEvent, Subject};
use crate::{
    AttemptOutcome, ClaimedDelivery, CredentialKey, DeliveryAttempt, DeliveryState, StoreError, SyncRun, WebhookEvent,
    clock,
};

macro_rules! delivery_columns {
    () => {
        "d.id, d.event_id, d.endpoint_id, d.integration_id, d.event_type, d.state, d.attempts, d.next_attempt_at, \
         d.last_status, d.last_error, d.created_at, d.delivered_at, d.seq"
    };
}

// ---- the outbox: written inside the caller's transaction ------------------------------------

/// Inserts `events` and one PENDING delivery, due now, per endpoint of their environment that
/// takes each one's type, in event order (`seq` is the delivery order).
pub(super) async fn emit(conn: &mut SqliteConnection, events: &[NewEvent]) -> Result<(), StoreError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    for event in events {
        sqlx::query(concat!(
            "INSERT INTO webhook_events (id, environment, integration_id, event_type, payload, created_at) ",
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .bind(&event.id)
        .bind(&event.environment)
        .bind(&event.integration_id)
        .bind(event.event_type)
        .bind(serde_json::to_string(&event.payload)?)
        .bind(to_text(event.created_at))
        .execute(&mut *conn)
        .await?;
    }
    let rows =
        sqlx::query("SELECT id, event_types FROM webhook_endpoints WHERE environment = ?1 ORDER BY created_at, id")
            .bind(&first.environment)
            .fetch_all(&mut *conn)
            .await?;
    let endpoints: Vec<(String, Vec<String>)> = rows
        .iter()
        .map(|row| {
            let types: String = row.try_get("event_types")?;
            Ok((row.try_get("id")?, serde_json::from_str(&types)?))
        })
        .collect::<Result<_, StoreError>>()?;
    let now = to_text(clock::now());
    for (delivery_id, index, endpoint_id) in payloads::fan_out(events, &endpoints) {
        let event = &events[index];
        sqlx::query(concat!(
            "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, integration_id, event_type, state, attempts, ",
            "next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', 0, ?6, ?6)"
        ))
        .bind(&delivery_id)
        .bind(&event.id)
        .bind(endpoint_id)
        .bind(&event.integration_id)
        .bind(event.event_type)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) struct IntegrationFacts {
    pub tool: ToolKind,
    pub environment: String,
}

pub(super) async fn integration_facts(
    conn: &mut SqliteConnection,
    integration_id: &str,
) -> Result<Option<IntegrationFacts>, StoreError> {
    let row = sqlx::query("SELECT tool, environment FROM integrations WHERE id = ?1")
        .bind(integration_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        Ok(IntegrationFacts {
            tool: parse_tool(row.try_get("tool")?)?,
            environment: row.try_get("environment")?,
        })
    })
    .transpose()
}

/// `finish_run`'s events, inside its transaction (after the run row was updated).
pub(crate) async fn emit_run_finished(conn: &mut SqliteConnection, run: &SyncRun) -> Result<(), StoreError> {
    let facts = integration_facts(conn, &run.integration_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("integration {}", run.integration_id)))?;
    let (changed, changed_joins): (String, String) =
        sqlx::query_as("SELECT changed_models, changed_joins FROM sync_runs WHERE id = ?1")
            .bind(&run.id)
            .fetch_one(&mut *conn)
            .await?;
    let changed: Vec<String> = serde_json::from_str(&changed)?;
    let changed_joins: Vec<String> = serde_json::from_str(&changed_joins)?;
    let changed: Vec<Model> = changed.iter().map(|m| parse_model(m)).collect::<Result<_, _>>()?;
    let previous: Option<String> = sqlx::query_scalar(concat!(
        "SELECT state FROM sync_runs WHERE integration_id = ?1 AND id <> ?2 AND ended_at IS NOT NULL ",
        "AND state NOT IN ('QUEUED', 'RUNNING', 'PAUSED') ORDER BY ended_at DESC, id DESC LIMIT 1"
    ))
    .bind(&run.integration_id)
    .bind(&run.id)
    .fetch_optional(&mut *conn)
    .await?;
    let previous: Option<RunState> = previous.as_deref().map(parse_state).transpose()?;
    let subject = Subject {
        integration_id: &run.integration_id,
        tool: facts.tool,
        environment: &facts.environment,
    };
    emit(
        conn,
        &payloads::run_finished(&subject, run, &changed, &changed_joins, previous),
    )
    .await
}

/// Adds the models and join tables a write changed to its run's `changed_models` and
/// `changed_joins` (each a sorted, distinct JSON array).
pub(crate) async fn note_changed_models(
    conn: &mut SqliteConnection,
    run_id: &str,
    integration_id: &str,
    models: &[Model],
    joins: &[&str],
) -> Result<(), StoreError> {
    if models.is_empty() && joins.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = models.iter().map(|m| m.as_str()).collect();
    sqlx::query(concat!(
        "UPDATE sync_runs SET changed_models = (SELECT json_group_array(value) FROM (",
        "SELECT value FROM json_each(sync_runs.changed_models) UNION SELECT value FROM json_each(?3) ORDER BY value)), ",
        "changed_joins = (SELECT json_group_array(value) FROM (",
        "SELECT value FROM json_each(sync_runs.changed_joins) UNION SELECT value FROM json_each(?4) ORDER BY value)) ",
        "WHERE id = ?1 AND integration_id = ?2"
    ))
    .bind(run_id)
    .bind(integration_id)
    .bind(serde_json::to_string(&names)?)
    .bind(serde_json::to_string(joins)?)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- deliveries -----------------------------------------------------------------------------

/// Leases up to `limit` due deliveries, oldest first, under the write lock: a concurrent claim
/// waits and then sees these leased. The ordering rule is the Postgres twin's.
pub(crate) async fn claim(
    pool: &SqlitePool,
    key: &CredentialKey,
    now: Timestamp,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let until = to_text(clock::after(clock::truncate(now), lease)?);
    let mut tx = write_lock::begin(pool).await?;
    let found = sqlx::query(concat!(
        "SELECT ",
        delivery_columns!(),
        ", ev.environment AS ev_environment, ev.payload AS ev_payload, ev.created_at AS ev_created_at, ",
        "ep.url AS ep_url, ep.secret_ciphertext AS ep_secret ",
        "FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id ",
        "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id ",
        "WHERE d.state = 'PENDING' AND d.next_attempt_at <= ?1 AND NOT EXISTS (",
        "  SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id ",
        "  AND e.integration_id = d.integration_id AND e.state = 'PENDING' AND e.seq < d.seq) ",
        "ORDER BY d.seq LIMIT ?2"
    ))
    .bind(to_text(now))
    .bind(limit.max(0))
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::with_capacity(found.len());
    for row in &found {
        let mut delivery = crate::ops::rows::sqlite::delivery(row)?;
        sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1")
            .bind(&delivery.id)
            .bind(&until)
            .execute(&mut *tx)
            .await?;
        delivery.next_attempt_at = from_text(&until)?;
        let sealed: Vec<u8> = row.try_get("ep_secret")?;
        let payload: String = row.try_get("ev_payload")?;
        let event = WebhookEvent {
            id: delivery.event_id.clone(),
            environment: row.try_get("ev_environment")?,
            integration_id: delivery.integration_id.clone(),
            event_type: delivery.event_type.clone(),
            payload: serde_json::from_str(&payload)?,
            created_at: from_text(row.try_get("ev_created_at")?)?,
        };
        claimed.push(ClaimedDelivery {
            secret: key.open_secret(&delivery.endpoint_id, &sealed)?,
            url: row.try_get("ep_url")?,
            event,
            delivery,
        });
    }
    tx.commit().await?;
    Ok(claimed)
}

/// The attempt and its outcome in one transaction; a DELIVERED delivery stays DELIVERED.
pub(crate) async fn record_attempt(
    pool: &SqlitePool,
    attempt: &DeliveryAttempt,
    outcome: &AttemptOutcome,
) -> Result<(), StoreError> {
    let at = to_text(attempt.at);
    let (state, next_attempt_at) = match outcome {
        AttemptOutcome::Delivered => (DeliveryState::Delivered, None),
        AttemptOutcome::Retry(when) => (DeliveryState::Pending, Some(to_text(*when))),
        AttemptOutcome::Dead => (DeliveryState::Dead, None),
    };
    let mut tx = write_lock::begin(pool).await?;
    let done = sqlx::query(concat!(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?2, last_error = ?3, ",
        "state = CASE WHEN state = 'DELIVERED' THEN state ELSE ?4 END, ",
        "next_attempt_at = CASE WHEN state = 'DELIVERED' THEN next_attempt_at ELSE COALESCE(?5, next_attempt_at) END, ",
        "delivered_at = CASE WHEN state = 'DELIVERED' THEN delivered_at WHEN ?4 = 'DELIVERED' THEN ?6 ELSE NULL END ",
        "WHERE id = ?1"
    ))
    .bind(&attempt.delivery_id)
    .bind(attempt.status)
    .bind(&attempt.error)
    .bind(delivery_state_str(state))
    .bind(next_attempt_at)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "webhook delivery {}",
            attempt.delivery_id
        )));
    }
    sqlx::query(concat!(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, response_excerpt, error) ",
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .bind(&attempt.delivery_id)
    .bind(attempt.attempt)
    .bind(&at)
    .bind(attempt.status)
    .bind(attempt.latency_ms)
    .bind(&attempt.response_excerpt)
    .bind(&attempt.error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `integration-created`, in the transaction that creates it.
pub(crate) async fn emit_integration_created(
    conn: &mut SqliteConnection,
    integration_id: &str,
    tool: ToolKind,
    environment: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let subject = Subject {
        integration_id,
        tool,
        environment,
    };
    emit(conn, &[payloads::integration_created(&subject, at)]).await
}

/// `integration-deleted`, in the deleting transaction, before the rows go.
pub(crate) async fn emit_integration_deleted(
    conn: &mut SqliteConnection,
    integration_id: &str,
) -> Result<(), StoreError> {
    let Some(facts) = integration_facts(conn, integration_id).await? else {
        return Ok(());
    };
    let subject = Subject {
        integration_id,
        tool: facts.tool,
        environment: &facts.environment,
    };
    emit(conn, &[payloads::integration_deleted(&subject, clock::now())]).await
}
