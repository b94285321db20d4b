//! The outbox's events in Kombo's webhook payload shapes (`components.schemas.*WebhookPayload`
//! of Kombo's OpenAPI document), built the same way by both backends. Pure: the backends
//! gather the facts inside their transaction and call these.
//!
//! Every payload is `{"id", "type", "data"}` with `additionalProperties: false` at each level,
//! so the builders write exactly the schema's keys, all of them (every key of these schemas is
//! required).

use chrono::SubsecRound;
use serde_json::{Value, json};
use tributary_model::{Model, RunState, Timestamp, ToolKind};

use crate::{SyncRun, ids};

pub(crate) const DATA_CHANGED: &str = "data-changed";
pub(crate) const SYNC_FINISHED: &str = "sync-finished";
pub(crate) const INTEGRATION_CREATED: &str = "integration-created";
pub(crate) const INTEGRATION_DELETED: &str = "integration-deleted";
pub(crate) const INTEGRATION_STATE_CHANGED: &str = "integration-state-changed";

/// An event ready for the outbox: the backend inserts it and fans it out to the endpoints.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewEvent {
    /// Also the payload's `id`, stable across every attempt (invariant I7).
    pub id: String,
    pub environment: String,
    pub integration_id: String,
    pub event_type: &'static str,
    pub payload: Value,
    pub created_at: Timestamp,
    /// The `traceparent` the event's deliveries join (the run's, for the events a run causes).
    pub trace_context: Option<String>,
}

/// What the payloads say about the integration.
#[derive(Debug, Clone)]
pub(crate) struct Subject<'a> {
    pub integration_id: &'a str,
    pub tool: ToolKind,
    pub environment: &'a str,
}

impl Subject<'_> {
    fn event(&self, event_type: &'static str, data: Value, at: Timestamp) -> NewEvent {
        let id = ids::random_id();
        NewEvent {
            payload: json!({"id": id, "type": event_type, "data": data}),
            id,
            environment: self.environment.to_owned(),
            integration_id: self.integration_id.to_owned(),
            event_type,
            created_at: at,
            trace_context: None,
        }
    }

    /// Kombo's `end_user`, as the gateway's `GET /v1/integrations/{id}` shows it: the
    /// organisation is the name part of `<tool>:<name>`; the mirror knows no creator or origin.
    fn end_user(&self) -> Value {
        let organization_name = self
            .integration_id
            .split_once(':')
            .map_or(self.integration_id, |(_, name)| name);
        json!({"organization_name": organization_name, "creator_email": null, "origin_id": null})
    }

    fn category(&self) -> &'static str {
        self.tool.category().label()
    }
}

/// Kombo's timestamps: milliseconds and `Z` (`2024-05-01T00:00:00.000Z`).
pub(crate) fn kombo_time(at: Timestamp) -> String {
    at.trunc_subsecs(3).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The name Kombo's `data-changed` payload gives a model: its scope id, except that Kombo's
/// enum still calls groups `hris_teams` (its `changed_models[].name` has no `hris_groups`).
pub(crate) fn changed_model_name(model: Model) -> &'static str {
    match model {
        Model::Groups => "hris_teams",
        other => other.scope_id(),
    }
}

/// `log_url` is a required, non-nullable `uri` in `SyncFinishedWebhookPayload`, but the store
/// does not know the public address of the operator API; a URN naming the run is a valid URI
/// that an operator can resolve to `/syncs/{id}`.
pub(crate) fn run_log_url(run_id: &str) -> String {
    format!("urn:tributary:sync:{run_id}")
}

/// `data-changed`, or `None` when the run changed nothing: Kombo never sends an empty one.
/// `joins` are the join tables whose memberships the run changed (joins.rs), already in Kombo's
/// names (`hris_join_employees_teams`); they are listed among the models, sorted by name.
pub(crate) fn data_changed(
    subject: &Subject<'_>,
    models: &[Model],
    joins: &[String],
    at: Timestamp,
) -> Option<NewEvent> {
    let mut names: Vec<&str> = models.iter().map(|m| changed_model_name(*m)).collect();
    names.extend(joins.iter().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return None;
    }
    let changed: Vec<Value> = names.into_iter().map(|name| json!({"name": name})).collect();
    Some(subject.event(
        DATA_CHANGED,
        json!({
            "integration_id": subject.integration_id,
            "integration_tool": subject.tool.as_str(),
            "integration_category": subject.category(),
            "changed_models": changed,
        }),
        at,
    ))
}

/// `sync-finished` for an ended run. A run ended before it ever started (cancelled while
/// queued) reports its creation as its start.
pub(crate) fn sync_finished(subject: &Subject<'_>, run: &SyncRun) -> NewEvent {
    let ended = run.ended_at.unwrap_or(run.created_at);
    let started = run.started_at.unwrap_or(run.created_at).min(ended);
    let duration = (ended - started).num_seconds().max(0);
    subject.event(
        SYNC_FINISHED,
        json!({
            "sync_id": run.id,
            "sync_state": run.state.as_str(),
            "sync_started_at": kombo_time(started),
            "sync_ended_at": kombo_time(ended),
            "sync_duration_seconds": duration,
            "integration_id": subject.integration_id,
            "integration_tool": subject.tool.as_str(),
            "integration_category": subject.category(),
            "end_user": subject.end_user(),
            "log_url": run_log_url(&run.id),
        }),
        ended,
    )
}

pub(crate) fn integration_created(subject: &Subject<'_>, at: Timestamp) -> NewEvent {
    subject.event(
        INTEGRATION_CREATED,
        json!({
            "id": subject.integration_id,
            "tool": subject.tool.as_str(),
            "category": subject.category(),
            "end_user": subject.end_user(),
        }),
        at,
    )
}

pub(crate) fn integration_deleted(subject: &Subject<'_>, at: Timestamp) -> NewEvent {
    subject.event(
        INTEGRATION_DELETED,
        json!({
            "id": subject.integration_id,
            "tool": subject.tool.as_str(),
            "category": subject.category(),
            "end_user": subject.end_user(),
            "deleted_at": kombo_time(at),
        }),
        at,
    )
}

/// The integration's state as Kombo names it, when a run's end changes it: INVALID when the
/// source refuses the credentials (and the previous ended run was not refused), ACTIVE again
/// when a run succeeds after a refusal. `previous` is the state of the integration's previous
/// ended run, if any.
pub(crate) fn state_transition(previous: Option<RunState>, ended: RunState) -> Option<&'static str> {
    let was_invalid = previous == Some(RunState::AuthenticationFailed);
    match ended {
        RunState::AuthenticationFailed if !was_invalid => Some("INVALID"),
        RunState::Succeeded if was_invalid => Some("ACTIVE"),
        _ => None,
    }
}

/// `integration-state-changed`. The mirror has no QA or setup steps: QA counts as passed and
/// setup as completed.
pub(crate) fn integration_state_changed(subject: &Subject<'_>, state: &str, at: Timestamp) -> NewEvent {
    subject.event(
        INTEGRATION_STATE_CHANGED,
        json!({
            "integration_tool": subject.tool.as_str(),
            "integration_id": subject.integration_id,
            "integration_category": subject.category(),
            "end_user": subject.end_user(),
            "qa_status": "PASSED",
            "setup_status": "COMPLETED",
            "state": state,
            "updated_at": kombo_time(at),
        }),
        at,
    )
}

/// Every event `finish_run` writes for a run that just ended, in the order they are delivered:
/// `data-changed` (if anything changed), `sync-finished`, then a state change.
pub(crate) fn run_finished(
    subject: &Subject<'_>,
    run: &SyncRun,
    changed_models: &[Model],
    changed_joins: &[String],
    previous: Option<RunState>,
) -> Vec<NewEvent> {
    let at = run.ended_at.unwrap_or(run.created_at);
    let mut events = Vec::with_capacity(3);
    events.extend(data_changed(subject, changed_models, changed_joins, at));
    events.push(sync_finished(subject, run));
    if let Some(state) = state_transition(previous, run.state) {
        events.push(integration_state_changed(subject, state, at));
    }
    events
}

/// The event types [`crate::NewWebhookEndpoint::event_types`] may name.
pub(crate) const EVENT_TYPES: &[&str] = &[
    DATA_CHANGED,
    SYNC_FINISHED,
    INTEGRATION_CREATED,
    INTEGRATION_DELETED,
    INTEGRATION_STATE_CHANGED,
];

/// Rejects unknown event types (a typo would silently subscribe to nothing) and drops
/// duplicates.
pub(crate) fn validate_event_types(types: &[String]) -> Result<Vec<String>, crate::StoreError> {
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for t in types {
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(crate::StoreError::Invalid(format!(
                "unknown webhook event type {t:?}; expected one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

/// Whether an endpoint subscribed to `event_type` (no types: every type).
pub(crate) fn endpoint_takes(event_types: &[String], event_type: &str) -> bool {
    event_types.is_empty() || event_types.iter().any(|t| t == event_type)
}

/// One delivery per event and endpoint that takes its type, in event order then endpoint order:
/// `(delivery id, event index, endpoint id)`.
pub(crate) fn fan_out<'a>(
    events: &[NewEvent],
    endpoints: &'a [(String, Vec<String>)],
) -> Vec<(String, usize, &'a str)> {
    let mut out = Vec::new();
    for (index, event) in events.iter().enumerate() {
        for (endpoint_id, types) in endpoints {
            if endpoint_takes(types, event.event_type) {
                out.push((ids::random_id(), index, endpoint_id.as_str()));
            }
        }
    }
    out
}

/// Checks an endpoint's URL before it is stored: absolute http(s).
pub(crate) fn validate_url(url: &str) -> Result<(), crate::StoreError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| crate::StoreError::Invalid(format!("webhook url {url:?} is not an http(s) URL")))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(crate::StoreError::Invalid(format!("webhook url {url:?} has no host")));
    }
    Ok(())
}

/// The associated data an inbound webhook secret is sealed with: distinct from the integration's
/// credentials (sealed with the bare id), so neither ciphertext opens in the other's column.
pub(crate) fn inbound_secret_ad(integration_id: &str) -> String {
    format!("inbound-webhook\0{integration_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tributary_model::{RunCounts, SyncType};

    fn at(h: u32, m: u32, s: u32) -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(2024, 5, 1, h, m, s)
            .single()
            .expect("valid")
    }

    fn subject() -> Subject<'static> {
        Subject {
            integration_id: "personio:acme",
            tool: ToolKind::Personio,
            environment: "production",
        }
    }

    fn run(state: RunState) -> SyncRun {
        SyncRun {
            id: "run1".into(),
            integration_id: "personio:acme".into(),
            sync_type: SyncType::Full,
            state,
            created_at: at(9, 59, 0),
            started_at: Some(at(10, 0, 0)),
            ended_at: Some(at(10, 1, 30) + chrono::TimeDelta::microseconds(123_456)),
            counts: RunCounts::default(),
            checkpoint: None,
            error: None,
            fence: Some(1),
            worker_id: None,
            attempts: 0,
            pause_reason: None,
            preempted_by: None,
            resume_at: None,
            trace_context: None,
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn timestamps_have_millis_and_z() {
        assert_eq!(kombo_time(at(0, 0, 0)), "2024-05-01T00:00:00.000Z");
        assert_eq!(
            kombo_time(at(0, 0, 0) + chrono::TimeDelta::microseconds(1_999)),
            "2024-05-01T00:00:00.001Z"
        );
    }

    #[test]
    fn sync_finished_has_exactly_the_schema_keys() {
        let event = sync_finished(&subject(), &run(RunState::Succeeded));
        assert_eq!(event.event_type, SYNC_FINISHED);
        assert_eq!(keys(&event.payload), ["data", "id", "type"]);
        assert_eq!(event.payload["id"], event.id.as_str());
        assert_eq!(event.payload["type"], "sync-finished");
        let data = &event.payload["data"];
        assert_eq!(
            keys(data),
            [
                "end_user",
                "integration_category",
                "integration_id",
                "integration_tool",
                "log_url",
                "sync_duration_seconds",
                "sync_ended_at",
                "sync_id",
                "sync_started_at",
                "sync_state",
            ]
        );
        assert_eq!(data["sync_state"], "SUCCEEDED");
        assert_eq!(data["sync_started_at"], "2024-05-01T10:00:00.000Z");
        assert_eq!(data["sync_ended_at"], "2024-05-01T10:01:30.123Z");
        assert_eq!(data["sync_duration_seconds"], 90);
        assert!(data["sync_duration_seconds"].is_u64());
        assert_eq!(data["integration_category"], "HRIS");
        assert_eq!(data["integration_tool"], "personio");
        assert_eq!(
            data["end_user"],
            json!({"organization_name": "acme", "creator_email": null, "origin_id": null})
        );
        assert!(data["log_url"].as_str().expect("string").contains("run1"));
    }

    #[test]
    fn data_changed_lists_distinct_kombo_model_names_and_is_skipped_when_empty() {
        assert!(data_changed(&subject(), &[], &[], at(0, 0, 0)).is_none());
        let event = data_changed(
            &subject(),
            &[Model::Employments, Model::Employees, Model::Employees, Model::Groups],
            &[],
            at(0, 0, 0),
        )
        .expect("something changed");
        assert_eq!(
            keys(&event.payload["data"]),
            [
                "changed_models",
                "integration_category",
                "integration_id",
                "integration_tool"
            ]
        );
        assert_eq!(
            event.payload["data"]["changed_models"],
            json!([{"name": "hris_employees"}, {"name": "hris_employments"}, {"name": "hris_teams"}])
        );
        // Joins are listed among the models, sorted; joins alone make the event too.
        let joined = data_changed(
            &subject(),
            &[Model::Groups, Model::Employees],
            &["hris_join_employees_teams".into()],
            at(0, 0, 0),
        )
        .expect("something changed");
        assert_eq!(
            joined.payload["data"]["changed_models"],
            json!([{"name": "hris_employees"}, {"name": "hris_join_employees_teams"}, {"name": "hris_teams"}])
        );
        assert!(data_changed(&subject(), &[], &["ats_join_jobs_users".into()], at(0, 0, 0)).is_some());
    }

    #[test]
    fn integration_events_carry_their_schema_keys() {
        let created = integration_created(&subject(), at(1, 0, 0));
        assert_eq!(keys(&created.payload["data"]), ["category", "end_user", "id", "tool"]);
        let deleted = integration_deleted(&subject(), at(1, 0, 0));
        assert_eq!(
            keys(&deleted.payload["data"]),
            ["category", "deleted_at", "end_user", "id", "tool"]
        );
        assert_eq!(deleted.payload["data"]["deleted_at"], "2024-05-01T01:00:00.000Z");
        let changed = integration_state_changed(&subject(), "INVALID", at(1, 0, 0));
        assert_eq!(
            keys(&changed.payload["data"]),
            [
                "end_user",
                "integration_category",
                "integration_id",
                "integration_tool",
                "qa_status",
                "setup_status",
                "state",
                "updated_at"
            ]
        );
        assert_ne!(created.id, deleted.id);
    }

    #[test]
    fn state_changes_only_on_entering_or_leaving_invalid() {
        use RunState::*;
        assert_eq!(state_transition(None, AuthenticationFailed), Some("INVALID"));
        assert_eq!(state_transition(Some(Succeeded), AuthenticationFailed), Some("INVALID"));
        assert_eq!(state_transition(Some(AuthenticationFailed), AuthenticationFailed), None);
        assert_eq!(state_transition(Some(AuthenticationFailed), Succeeded), Some("ACTIVE"));
        assert_eq!(state_transition(Some(AuthenticationFailed), Failed), None);
        assert_eq!(state_transition(None, Succeeded), None);
        assert_eq!(state_transition(Some(Failed), Succeeded), None);
    }

    #[test]
    fn run_finished_orders_data_changed_sync_finished_state() {
        let events = run_finished(
            &subject(),
            &run(RunState::Succeeded),
            &[Model::Employees],
            &[],
            Some(RunState::AuthenticationFailed),
        );
        let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(types, [DATA_CHANGED, SYNC_FINISHED, INTEGRATION_STATE_CHANGED]);
        let quiet = run_finished(&subject(), &run(RunState::Failed), &[], &[], None);
        assert_eq!(quiet.iter().map(|e| e.event_type).collect::<Vec<_>>(), [SYNC_FINISHED]);
    }

    #[test]
    fn endpoint_inputs_are_checked() {
        assert_eq!(
            validate_event_types(&["data-changed".into(), "data-changed".into()]).expect("valid"),
            ["data-changed"]
        );
        assert!(validate_event_types(&["data-change".into()]).is_err());
        assert!(validate_url("https://example.com/hook").is_ok());
        assert!(validate_url("http://127.0.0.1:9000").is_ok());
        assert!(validate_url("ftp://example.com").is_err());
        assert!(validate_url("https://").is_err());
    }
}
