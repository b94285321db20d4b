//! Row decoding written once, for the operations here and for the backend modules
//! (`per_dialect!`: this file imports no backend module).

use tributary_model::RunCounts;

use crate::codec::{
    into_object, parse_delivery_state, parse_kind, parse_model, parse_pause_reason, parse_state, parse_sync_type,
};
use crate::dialect::per_dialect;
use crate::schedules::ScheduleColumns;
use crate::{Change, RawJson, StoreError, StoredRecord, SyncRun, SyncSchedule, WebhookDelivery, WebhookEndpoint};

per_dialect! {
    use sqlx::Row as _;

    pub(crate) fn endpoint(row: &Row) -> Result<WebhookEndpoint, StoreError> {
        Ok(WebhookEndpoint {
            id: row.try_get("id")?,
            environment: row.try_get("environment")?,
            url: row.try_get("url")?,
            event_types: get_strings(row, "event_types")?,
            created_at: get_time(row, "created_at")?,
        })
    }

    pub(crate) fn delivery(row: &Row) -> Result<WebhookDelivery, StoreError> {
        Ok(WebhookDelivery {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            endpoint_id: row.try_get("endpoint_id")?,
            integration_id: row.try_get("integration_id")?,
            event_type: row.try_get("event_type")?,
            state: parse_delivery_state(row.try_get("state")?)?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: get_time(row, "next_attempt_at")?,
            last_status: row.try_get("last_status")?,
            last_error: row.try_get("last_error")?,
            created_at: get_time(row, "created_at")?,
            delivered_at: get_opt_time(row, "delivered_at")?,
        })
    }

    pub(crate) fn run(row: &Row) -> Result<SyncRun, StoreError> {
        Ok(SyncRun {
            id: row.try_get("id")?,
            integration_id: row.try_get("integration_id")?,
            sync_type: parse_sync_type(row.try_get("sync_type")?)?,
            state: parse_state(row.try_get("state")?)?,
            created_at: get_time(row, "created_at")?,
            started_at: get_opt_time(row, "started_at")?,
            ended_at: get_opt_time(row, "ended_at")?,
            counts: RunCounts {
                pages_fetched: row.try_get("pages_fetched")?,
                created: row.try_get("created_count")?,
                updated: row.try_get("updated_count")?,
                deleted: row.try_get("deleted_count")?,
                unchanged: row.try_get("unchanged_count")?,
                unconfirmed: row.try_get("unconfirmed_deletions")?,
            },
            checkpoint: get_opt_json(row, "checkpoint")?,
            error: row.try_get("error")?,
            fence: row.try_get("fence")?,
            worker_id: row.try_get("worker_id")?,
            attempts: row.try_get("attempts")?,
            pause_reason: row
                .try_get::<Option<&str>, _>("pause_reason")?
                .map(parse_pause_reason)
                .transpose()?,
            preempted_by: row.try_get("preempted_by")?,
            resume_at: get_opt_time(row, "resume_at")?,
        })
    }

    pub(crate) fn record(row: &Row) -> Result<StoredRecord, StoreError> {
        Ok(StoredRecord {
            model: parse_model(row.try_get("model")?)?,
            id: row.try_get("id")?,
            remote_id: row.try_get("remote_id")?,
            parent_id: row.try_get("parent_id")?,
            data: into_object(get_json(row, "data")?)?,
            remote_data: row
                .try_get::<Option<&str>, _>("remote_data")?
                .map(RawJson::from_text)
                .transpose()?,
            remote_created_at: get_opt_time(row, "remote_created_at")?,
            changed_at: get_time(row, "changed_at")?,
            updated_at: get_time(row, "updated_at")?,
            remote_deleted_at: get_opt_time(row, "remote_deleted_at")?,
            scope_version: row.try_get("scope_version")?,
        })
    }

    pub(crate) fn change(row: &Row) -> Result<Change, StoreError> {
        Ok(Change {
            seq: row.try_get("seq")?,
            integration_id: row.try_get("integration_id")?,
            model: parse_model(row.try_get("model")?)?,
            record_id: row.try_get("record_id")?,
            kind: parse_kind(row.try_get("kind")?)?,
            run_id: row.try_get("run_id")?,
            at: get_time(row, "at")?,
        })
    }

    pub(crate) fn schedule(row: &Row) -> Result<SyncSchedule, StoreError> {
        ScheduleColumns {
            integration_id: row.try_get("integration_id")?,
            sync_type: parse_sync_type(row.try_get("sync_type")?)?,
            every_seconds: row.try_get("every_seconds")?,
            override_every_seconds: row.try_get("override_every_seconds")?,
            webhooks_active: row.try_get("webhooks_active")?,
            next_due_at: get_time(row, "next_due_at")?,
            last_claimed_at: get_opt_time(row, "last_claimed_at")?,
            claimed_by: row.try_get("claimed_by")?,
            paused_at: get_opt_time(row, "paused_at")?,
        }
        .into_schedule()
    }
}
