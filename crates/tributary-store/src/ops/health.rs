//! The facts an integration's health is judged from: its newest success and failure, and its
//! schedules. One statement for a page of integrations (correlated subqueries over
//! `sync_runs_outcomes`, migration 0011), then their failed runs and schedules by id list.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::codec::parse_tool;
use crate::ops::run_queries::run_columns;
use crate::ops::schedules::schedule_columns;
use crate::{Health, HealthFacts, HealthFilter, StoreError, SyncRun, SyncSchedule};

/// The ended states that count as a failure (a CANCELLED run was stopped on purpose, so it
/// neither fails nor succeeds).
macro_rules! failed_states {
    () => {
        "('FAILED', 'PARTIALLY_FAILED', 'AUTHENTICATION_FAILED')"
    };
}

per_backend! {
    use sqlx::Row as _;

    #[async_trait]
    impl Health for Store {
        async fn integration_health(&self, filter: &HealthFilter) -> Result<Vec<HealthFacts>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT i.id, i.tool, i.environment, ",
                "(SELECT max(r.ended_at) FROM sync_runs r WHERE r.integration_id = i.id AND r.state = 'SUCCEEDED') AS last_success_at, ",
                "(SELECT r.state FROM sync_runs r WHERE r.integration_id = i.id AND (r.state = 'SUCCEEDED' OR r.state IN ",
                failed_states!(),
                ") ORDER BY r.ended_at DESC, r.id DESC LIMIT 1) AS last_outcome, ",
                "(SELECT r.id FROM sync_runs r WHERE r.integration_id = i.id AND r.state IN ",
                failed_states!(),
                " ORDER BY r.ended_at DESC, r.id DESC LIMIT 1) AS failed_id ",
                "FROM integrations i WHERE (CAST($1 AS TEXT) IS NULL OR i.id > $1) ",
                "AND (CAST($2 AS TEXT) IS NULL OR i.tool = $2) AND (CAST($3 AS TEXT) IS NULL OR i.id = $3) ",
                "ORDER BY i.id LIMIT $4"
            ))
            .bind(filter.after_id.as_deref())
            .bind(filter.tool.map(|t| t.as_str()))
            .bind(filter.integration_id.as_deref())
            .bind(filter.limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            if found.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<String> = found.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
            let failed_ids: Vec<String> = found
                .iter()
                .map(|r| r.try_get::<Option<String>, _>("failed_id"))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect();
            let mut failures: HashMap<String, SyncRun> = HashMap::new();
            if !failed_ids.is_empty() {
                let runs = sqlx::query(concat!("SELECT ", run_columns!(), " FROM sync_runs WHERE id ", in_list!("$1")))
                    .bind(str_list(&failed_ids)?)
                    .fetch_all(&self.pool)
                    .await?;
                for row in &runs {
                    let run = rows::run(row)?;
                    failures.insert(run.integration_id.clone(), run);
                }
            }
            let schedule_rows = sqlx::query(concat!(
                "SELECT ",
                schedule_columns!(),
                " FROM sync_schedules s JOIN integrations i ON i.id = s.integration_id WHERE s.integration_id ",
                in_list!("$1"),
                " ORDER BY s.integration_id, s.sync_type"
            ))
            .bind(str_list(&ids)?)
            .fetch_all(&self.pool)
            .await?;
            let mut schedules: HashMap<String, Vec<SyncSchedule>> = HashMap::new();
            for row in &schedule_rows {
                let schedule = rows::schedule(row)?;
                schedules.entry(schedule.integration_id.clone()).or_default().push(schedule);
            }
            found
                .iter()
                .map(|row| {
                    let id: String = row.try_get("id")?;
                    let outcome: Option<String> = row.try_get("last_outcome")?;
                    Ok(HealthFacts {
                        tool: parse_tool(row.try_get("tool")?)?,
                        environment: row.try_get("environment")?,
                        last_success_at: get_opt_time(row, "last_success_at")?,
                        last_outcome_failed: outcome.is_some_and(|s| s != "SUCCEEDED"),
                        last_failure: failures.remove(&id),
                        schedules: schedules.remove(&id).unwrap_or_default(),
                        integration_id: id,
                    })
                })
                .collect()
        }
    }
}
