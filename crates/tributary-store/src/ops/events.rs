//! The outbox's writes, called inside the transaction of the change they describe, and the
//! run's record of what it changed, which `finish_run`'s data-changed event reads. Leaf code
//! (`per_dialect!`): the backends' page writes use it too.
//!
//! Lists travel as one JSON array parameter (`json_rows!`), so each write is one static
//! statement whatever its size.

use serde_json::json;
use tributary_model::{Model, RunState, Timestamp, ToolKind};

use crate::codec::{parse_model, parse_state, parse_tool};
use crate::dialect::per_dialect;
use crate::webhook_payloads::{self as payloads, NewEvent, Subject};
use crate::{StoreError, SyncRun, clock};

per_dialect! {
    use sqlx::Row as _;

    /// Inserts `events` and one PENDING delivery, due now, per endpoint of their environment that
    /// takes each one's type. All events share an environment (they describe one integration).
    pub(crate) async fn emit(conn: &mut Conn, events: &[NewEvent]) -> Result<(), StoreError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let mut rows = Vec::with_capacity(events.len());
        for e in events {
            let payload = serde_json::to_string(&e.payload)?;
            let created = time(clock::truncate(e.created_at));
            rows.push(json!([e.id, e.environment, e.integration_id, e.event_type, payload, created, e.trace_context]));
        }
        sqlx::query(concat!(
            "INSERT INTO webhook_events (id, environment, integration_id, event_type, payload, created_at, trace_context) ",
            "SELECT u.value ->> 0, u.value ->> 1, u.value ->> 2, u.value ->> 3, ",
            jsonb!("(u.value ->> 4)"),
            ", ",
            timestamptz!("(u.value ->> 5)"),
            ", u.value ->> 6 FROM ",
            json_rows!("$1"),
            " ORDER BY u.key"
        ))
        .bind(json(&rows)?)
        .execute(&mut *conn)
        .await?;

        let found = sqlx::query("SELECT id, event_types FROM webhook_endpoints WHERE environment = $1 ORDER BY created_at, id")
            .bind(&first.environment)
            .fetch_all(&mut *conn)
            .await?;
        let endpoints = found
            .iter()
            .map(|row| Ok((row.try_get("id")?, get_strings(row, "event_types")?)))
            .collect::<Result<Vec<(String, Vec<String>)>, StoreError>>()?;
        let planned = payloads::fan_out(events, &endpoints);
        if planned.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = planned
            .iter()
            .map(|(id, i, endpoint)| {
                let e = &events[*i];
                json!([id, e.id, endpoint, e.integration_id, e.event_type])
            })
            .collect();
        // ORDER BY the position: `seq` is drawn in that order, and it is the delivery order.
        sqlx::query(concat!(
            "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, integration_id, event_type, state, attempts, ",
            "next_attempt_at, created_at) ",
            "SELECT u.value ->> 0, u.value ->> 1, u.value ->> 2, u.value ->> 3, u.value ->> 4, 'PENDING', 0, $2, $2 ",
            "FROM ",
            json_rows!("$1"),
            " ORDER BY u.key"
        ))
        .bind(json(&rows)?)
        .bind(time(clock::now()))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// What the events of an integration need to know about it, read inside the transaction.
    async fn subject_facts(conn: &mut Conn, integration_id: &str) -> Result<Option<(ToolKind, String)>, StoreError> {
        let row = sqlx::query("SELECT tool, environment FROM integrations WHERE id = $1")
            .bind(integration_id)
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|row| Ok((parse_tool(row.try_get("tool")?)?, row.try_get("environment")?)))
            .transpose()
    }

    /// `finish_run`'s events, inside its transaction (after the run row was updated): data-changed
    /// if the run changed anything, sync-finished, and a state change.
    pub(crate) async fn emit_run_finished(conn: &mut Conn, run: &SyncRun) -> Result<(), StoreError> {
        let (tool, environment) = subject_facts(conn, &run.integration_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("integration {}", run.integration_id)))?;
        let row = sqlx::query("SELECT changed_models, changed_joins FROM sync_runs WHERE id = $1")
            .bind(&run.id)
            .fetch_one(&mut *conn)
            .await?;
        let changed: Vec<Model> = get_strings(&row, "changed_models")?
            .iter()
            .map(|m| parse_model(m))
            .collect::<Result<_, _>>()?;
        let changed_joins = get_strings(&row, "changed_joins")?;
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
            tool,
            environment: &environment,
        };
        let mut events = payloads::run_finished(&subject, run, &changed, &changed_joins, previous);
        for e in &mut events {
            e.trace_context.clone_from(&run.trace_context);
        }
        emit(conn, &events).await
    }

    /// Adds the models and join tables a write changed to its run's `changed_models` and
    /// `changed_joins` (each kept sorted and distinct).
    pub(crate) async fn note_changed_models(
        conn: &mut Conn,
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
            "UPDATE sync_runs SET changed_models = ",
            sorted_union!("sync_runs.changed_models", "$3"),
            ", changed_joins = ",
            sorted_union!("sync_runs.changed_joins", "$4"),
            " WHERE id = $1 AND integration_id = $2"
        ))
        .bind(run_id)
        .bind(integration_id)
        .bind(strings(&names)?)
        .bind(strings(joins)?)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// `integration-created`, in the transaction that creates it.
    pub(crate) async fn emit_integration_created(
        conn: &mut Conn,
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
    pub(crate) async fn emit_integration_deleted(conn: &mut Conn, integration_id: &str) -> Result<(), StoreError> {
        let Some((tool, environment)) = subject_facts(conn, integration_id).await? else {
            return Ok(());
        };
        let subject = Subject {
            integration_id,
            tool,
            environment: &environment,
        };
        emit(conn, &[payloads::integration_deleted(&subject, clock::now())]).await
    }
}
