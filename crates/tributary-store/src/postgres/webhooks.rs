//! Webhooks on Postgres: the outbox's writes (called inside the transaction of the change),
//! endpoints, and claiming and recording deliveries. Inbound webhooks are `inbound_webhooks.rs`.

use std::time::Duration;

use sqlx::{PgConnection, PgPool, Row};
use tributary_model::{Model, RunState, Timestamp, ToolKind};

use crate::codec::{delivery_state_str, parse_model, parse_state, parse_tool};
use crate::webhook_payloads::{self as payloads, NewEvent, Subject};
use crate::{
    AttemptOutcome, ClaimedDelivery, CredentialKey, DeliveryAttempt, DeliveryState, StoreError, SyncRun, WebhookEvent,
    clock,
};

macro_rules! delivery_columns {
    ($d:literal) => {
        concat!(
            $d,
            ".id, ",
            $d,
            ".event_id, ",
            $d,
            ".endpoint_id, ",
            $d,
            ".integration_id, ",
            $d,
            ".event_type, ",
            $d,
            ".state, ",
            $d,
            ".attempts, ",
            $d,
            ".next_attempt_at, ",
            $d,
            ".last_status, ",
            $d,
            ".last_error, ",
            $d,
            ".created_at, ",
            $d,
            ".delivered_at, ",
            $d,
            ".seq"
        )
    };
}

// ---- the outbox: written inside the caller's transaction ------------------------------------

/// Inserts `events` and one PENDING delivery, due now, per endpoint of their environment that
/// takes each one's type. All events share an environment (they describe one integration).
pub(super) async fn emit(conn: &mut PgConnection, events: &[NewEvent]) -> Result<(), StoreError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let environments: Vec<&str> = events.iter().map(|e| e.environment.as_str()).collect();
    let integrations: Vec<&str> = events.iter().map(|e| e.integration_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let bodies: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    let created: Vec<Timestamp> = events.iter().map(|e| clock::truncate(e.created_at)).collect();
    sqlx::query(concat!(
        "INSERT INTO webhook_events (id, environment, integration_id, event_type, payload, created_at) ",
        "SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])"
    ))
    .bind(&ids)
    .bind(&environments)
    .bind(&integrations)
    .bind(&types)
    .bind(&bodies)
    .bind(&created)
    .execute(&mut *conn)
    .await?;

    let endpoints: Vec<(String, Vec<String>)> =
        sqlx::query_as("SELECT id, event_types FROM webhook_endpoints WHERE environment = $1 ORDER BY created_at, id")
            .bind(&first.environment)
            .fetch_all(&mut *conn)
            .await?;
    let planned = payloads::fan_out(events, &endpoints);
    if planned.is_empty() {
        return Ok(());
    }
    let now = clock::now();
    let delivery_ids: Vec<&str> = planned.iter().map(|(id, _, _)| id.as_str()).collect();
    let event_ids: Vec<&str> = planned.iter().map(|(_, i, _)| events[*i].id.as_str()).collect();
    let endpoint_ids: Vec<&str> = planned.iter().map(|(_, _, e)| *e).collect();
    let integration_ids: Vec<&str> = planned
        .iter()
        .map(|(_, i, _)| events[*i].integration_id.as_str())
        .collect();
    let event_types: Vec<&str> = planned.iter().map(|(_, i, _)| events[*i].event_type).collect();
    // ORDER BY the ordinality: `seq` is drawn in that order, and it is the delivery order.
    sqlx::query(concat!(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, integration_id, event_type, state, attempts, ",
        "next_attempt_at, created_at) ",
        "SELECT u.id, u.event_id, u.endpoint_id, u.integration_id, u.event_type, 'PENDING', 0, $6, $6 ",
        "FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY ",
        "AS u(id, event_id, endpoint_id, integration_id, event_type, n) ORDER BY u.n"
    ))
    .bind(&delivery_ids)
    .bind(&event_ids)
    .bind(&endpoint_ids)
    .bind(&integration_ids)
    .bind(&event_types)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the events of an integration need to know about it, read inside the transaction.
pub(super) struct IntegrationFacts {
    pub tool: ToolKind,
    pub environment: String,
}

pub(super) async fn integration_facts(
    conn: &mut PgConnection,
    integration_id: &str,
) -> Result<Option<IntegrationFacts>, StoreError> {
    let row = sqlx::query("SELECT tool, environment FROM integrations WHERE id = $1")
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

/// `finish_run`'s events, inside its transaction (after the run row was updated): data-changed
/// if the run changed anything, sync-finished, and a state change.
pub(crate) async fn emit_run_finished(conn: &mut PgConnection, run: &SyncRun) -> Result<(), StoreError> {
    let facts = integration_facts(conn, &run.integration_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("integration {}", run.integration_id)))?;
    let (changed, changed_joins): (Vec<String>, Vec<String>) =
        sqlx::query_as("SELECT changed_models, changed_joins FROM sync_runs WHERE id = $1")
            .bind(&run.id)
            .fetch_one(&mut *conn)
            .await?;
    let changed: Vec<Model> = changed.iter().map(|m| parse_model(m)).collect::<Result<_, _>>()?;
    let previous: Option<String> = sqlx::query_scalar(concat!(
        "SELECT state FROM sync_runs WHERE integration_id = $1 AND id <> $2 AND ended_at IS NOT NULL ",
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
/// `changed_joins` (each kept sorted and distinct).
pub(crate) async fn note_changed_models(
    conn: &mut PgConnection,
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
        "UPDATE sync_runs SET changed_models = ARRAY(SELECT DISTINCT m FROM UNNEST(changed_models || $3::text[]) AS m ",
        "ORDER BY m), changed_joins = ARRAY(SELECT DISTINCT j FROM UNNEST(changed_joins || $4::text[]) AS j ",
        "ORDER BY j) WHERE id = $1 AND integration_id = $2"
    ))
    .bind(run_id)
    .bind(integration_id)
    .bind(&names)
    .bind(joins)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- deliveries -----------------------------------------------------------------------------

/// Leases up to `limit` due deliveries. A delivery is claimable only while no delivery of the
/// same (endpoint, integration) with a lower `seq` is PENDING, leased or not: that keeps one
/// integration's events in order at each endpoint (every event the mirror writes names its
/// integration; `=` rather than `IS NOT DISTINCT FROM` so the pair index answers it). `SKIP LOCKED` lets concurrent claimers pass
/// over rows another claim holds instead of waiting; the lease (a later `next_attempt_at`) is
/// what keeps the row from being claimed again once that claim commits.
pub(crate) async fn claim(
    pool: &PgPool,
    key: &CredentialKey,
    now: Timestamp,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let now = clock::truncate(now);
    let until = clock::after(now, lease)?;
    let found = sqlx::query(concat!(
        "WITH picked AS (",
        "  SELECT d.seq FROM webhook_deliveries d ",
        "  WHERE d.state = 'PENDING' AND d.next_attempt_at <= $1 AND NOT EXISTS (",
        "    SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id ",
        "    AND e.integration_id = d.integration_id AND e.state = 'PENDING' AND e.seq < d.seq) ",
        "  ORDER BY d.seq LIMIT $3 FOR UPDATE OF d SKIP LOCKED) ",
        "UPDATE webhook_deliveries d SET next_attempt_at = $2 ",
        "FROM picked p, webhook_events ev, webhook_endpoints ep ",
        "WHERE d.seq = p.seq AND ev.id = d.event_id AND ep.id = d.endpoint_id ",
        "RETURNING ",
        delivery_columns!("d"),
        ", ev.environment AS ev_environment, ev.payload AS ev_payload, ev.created_at AS ev_created_at, ",
        "ep.url AS ep_url, ep.secret_ciphertext AS ep_secret"
    ))
    .bind(now)
    .bind(until)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    let mut claimed = Vec::with_capacity(found.len());
    for row in &found {
        let delivery = crate::ops::rows::postgres::delivery(row)?;
        let sealed: Vec<u8> = row.try_get("ep_secret")?;
        let event = WebhookEvent {
            id: delivery.event_id.clone(),
            environment: row.try_get("ev_environment")?,
            integration_id: delivery.integration_id.clone(),
            event_type: delivery.event_type.clone(),
            payload: row.try_get("ev_payload")?,
            created_at: row.try_get("ev_created_at")?,
        };
        claimed.push((
            row.try_get::<i64, _>("seq")?,
            ClaimedDelivery {
                secret: key.open_secret(&delivery.endpoint_id, &sealed)?,
                url: row.try_get("ep_url")?,
                event,
                delivery,
            },
        ));
    }
    // RETURNING has no order; hand them out oldest first.
    claimed.sort_by_key(|(seq, _)| *seq);
    Ok(claimed.into_iter().map(|(_, c)| c).collect())
}

/// The attempt and its outcome in one transaction. A delivery already DELIVERED stays so (a
/// deliverer whose lease ran out may report after the one that took over succeeded).
pub(crate) async fn record_attempt(
    pool: &PgPool,
    attempt: &DeliveryAttempt,
    outcome: &AttemptOutcome,
) -> Result<(), StoreError> {
    let at = clock::truncate(attempt.at);
    let (state, next_attempt_at) = match outcome {
        AttemptOutcome::Delivered => (DeliveryState::Delivered, None),
        AttemptOutcome::Retry(when) => (DeliveryState::Pending, Some(clock::truncate(*when))),
        AttemptOutcome::Dead => (DeliveryState::Dead, None),
    };
    // One statement (atomic on its own): the deliverer records every attempt, so this is on
    // the outbox's hot path and costs one round trip instead of four.
    let done = sqlx::query(concat!(
        "WITH updated AS (UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3, ",
        "state = CASE WHEN state = 'DELIVERED' THEN state ELSE $4 END, ",
        "next_attempt_at = CASE WHEN state = 'DELIVERED' THEN next_attempt_at ELSE COALESCE($5, next_attempt_at) END, ",
        "delivered_at = CASE WHEN state = 'DELIVERED' THEN delivered_at WHEN $4 = 'DELIVERED' THEN $6 ELSE NULL END ",
        "WHERE id = $1 RETURNING id) ",
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, response_excerpt, error) ",
        "SELECT id, $7, $6, $2, $8, $9, $3 FROM updated"
    ))
    .bind(&attempt.delivery_id)
    .bind(attempt.status)
    .bind(&attempt.error)
    .bind(delivery_state_str(state))
    .bind(next_attempt_at)
    .bind(at)
    .bind(attempt.attempt)
    .bind(attempt.latency_ms)
    .bind(&attempt.response_excerpt)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "webhook delivery {}",
            attempt.delivery_id
        )));
    }
    Ok(())
}

/// `integration-created`, in the transaction that creates it.
pub(crate) async fn emit_integration_created(
    conn: &mut PgConnection,
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

/// `integration-deleted`, in the deleting transaction, before the rows go. Nothing when the
/// integration does not exist.
pub(crate) async fn emit_integration_deleted(conn: &mut PgConnection, integration_id: &str) -> Result<(), StoreError> {
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
