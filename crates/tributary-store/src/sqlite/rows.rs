//! SQLite rows to API types. Timestamps are TEXT (see `crate::clock`), JSON is TEXT.

use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tributary_model::RunCounts;

use crate::clock::{from_text, opt_from_text};
use crate::codec::{into_object, parse_kind, parse_model, parse_pause_reason, parse_state, parse_sync_type};
use crate::schedules::ScheduleColumns;
use crate::{Change, RawJson, StoreError, StoredRecord, SyncRun, SyncSchedule};

fn json(text: &str) -> Result<Value, StoreError> {
    Ok(serde_json::from_str(text)?)
}

fn opt_json(text: Option<String>) -> Result<Option<Value>, StoreError> {
    text.as_deref().map(json).transpose()
}

pub(super) fn run(row: &SqliteRow) -> Result<SyncRun, StoreError> {
    Ok(SyncRun {
        id: row.try_get("id")?,
        integration_id: row.try_get("integration_id")?,
        sync_type: parse_sync_type(row.try_get("sync_type")?)?,
        state: parse_state(row.try_get("state")?)?,
        created_at: from_text(row.try_get("created_at")?)?,
        started_at: opt_from_text(row.try_get("started_at")?)?,
        ended_at: opt_from_text(row.try_get("ended_at")?)?,
        counts: RunCounts {
            pages_fetched: row.try_get("pages_fetched")?,
            created: row.try_get("created_count")?,
            updated: row.try_get("updated_count")?,
            deleted: row.try_get("deleted_count")?,
            unchanged: row.try_get("unchanged_count")?,
            unconfirmed: row.try_get("unconfirmed_deletions")?,
        },
        checkpoint: opt_json(row.try_get("checkpoint")?)?,
        error: row.try_get("error")?,
        fence: row.try_get("fence")?,
        worker_id: row.try_get("worker_id")?,
        attempts: row.try_get("attempts")?,
        pause_reason: row
            .try_get::<Option<&str>, _>("pause_reason")?
            .map(parse_pause_reason)
            .transpose()?,
        preempted_by: row.try_get("preempted_by")?,
        resume_at: opt_from_text(row.try_get("resume_at")?)?,
    })
}

pub(super) fn record(row: &SqliteRow) -> Result<StoredRecord, StoreError> {
    Ok(StoredRecord {
        model: parse_model(row.try_get("model")?)?,
        id: row.try_get("id")?,
        remote_id: row.try_get("remote_id")?,
        parent_id: row.try_get("parent_id")?,
        data: into_object(json(row.try_get("data")?)?)?,
        remote_data: row
            .try_get::<Option<&str>, _>("remote_data")?
            .map(RawJson::from_text)
            .transpose()?,
        remote_created_at: opt_from_text(row.try_get("remote_created_at")?)?,
        changed_at: from_text(row.try_get("changed_at")?)?,
        updated_at: from_text(row.try_get("updated_at")?)?,
        remote_deleted_at: opt_from_text(row.try_get("remote_deleted_at")?)?,
        scope_version: row.try_get("scope_version")?,
    })
}

pub(super) fn change(row: &SqliteRow) -> Result<Change, StoreError> {
    Ok(Change {
        seq: row.try_get("seq")?,
        integration_id: row.try_get("integration_id")?,
        model: parse_model(row.try_get("model")?)?,
        record_id: row.try_get("record_id")?,
        kind: parse_kind(row.try_get("kind")?)?,
        run_id: row.try_get("run_id")?,
        at: from_text(row.try_get("at")?)?,
    })
}

pub(super) fn schedule(row: &SqliteRow) -> Result<SyncSchedule, StoreError> {
    ScheduleColumns {
        integration_id: row.try_get("integration_id")?,
        sync_type: parse_sync_type(row.try_get("sync_type")?)?,
        every_seconds: row.try_get("every_seconds")?,
        override_every_seconds: row.try_get("override_every_seconds")?,
        webhooks_active: row.try_get("webhooks_active")?,
        next_due_at: from_text(row.try_get("next_due_at")?)?,
        last_claimed_at: opt_from_text(row.try_get("last_claimed_at")?)?,
        claimed_by: row.try_get("claimed_by")?,
    }
    .into_schedule()
}
