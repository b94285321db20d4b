//! Loading the records a page nests or links, a few queries per page (never one per row), and
//! turning stored records into the flat maps the response shapes read from.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};
use tributary_model::Model;
use tributary_store::{RecordQuery, StoredRecord};

use crate::error::ApiError;
use crate::state::GatewayState;
use crate::wire::{optional_timestamp, timestamp};

/// A record's stored `data` with the fields the mirror keeps beside it (`id`, `remote_id`,
/// `changed_at`, `remote_deleted_at`, `remote_created_at`, `remote_data`). Shapes pick what
/// their schema lists.
pub fn record_source(record: &StoredRecord) -> Map<String, Value> {
    let mut source = record.data.clone();
    source.insert("id".into(), Value::String(record.id.clone()));
    source.insert("remote_id".into(), Value::String(record.remote_id.clone()));
    source.insert("changed_at".into(), Value::String(timestamp(&record.changed_at)));
    source.insert(
        "remote_deleted_at".into(),
        optional_timestamp(record.remote_deleted_at.as_ref()),
    );
    source.insert(
        "remote_created_at".into(),
        optional_timestamp(record.remote_created_at.as_ref()),
    );
    source.insert("remote_data".into(), record.remote_data.clone().unwrap_or(Value::Null));
    source
}

/// Records of `model` by unified id, deleted ones included: a reference in a live record
/// (an employee's `manager_id`) still names its target after the target disappeared from the
/// tool, and the target's `remote_deleted_at` says so where the schema shows it. Ids the
/// mirror does not hold (not synced yet) are simply absent. An empty map without a query when
/// the scope config disables `model`.
pub async fn records_by_ids(
    state: &GatewayState,
    integration_id: &str,
    model: Model,
    enabled: bool,
    ids: BTreeSet<String>,
) -> Result<HashMap<String, StoredRecord>, ApiError> {
    if ids.is_empty() || !enabled {
        return Ok(HashMap::new());
    }
    let mut query = RecordQuery::new(integration_id, model);
    query.include_deleted = true;
    query.limit = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    query.ids = Some(ids.into_iter().collect());
    let records = state.store.query_records(&query).await?;
    Ok(records.into_iter().map(|record| (record.id.clone(), record)).collect())
}

/// Children of `model` under each of `parent_ids`, ordered by id. Deleted children only when
/// the caller asked for deleted entries (`include_deleted=true`); none when the scope config
/// disables `model` (its rows are being marked deleted).
pub async fn children_by_parent(
    state: &GatewayState,
    integration_id: &str,
    model: Model,
    enabled: bool,
    parent_ids: &[String],
    include_deleted: bool,
) -> Result<HashMap<String, Vec<StoredRecord>>, ApiError> {
    if parent_ids.is_empty() || !enabled {
        return Ok(HashMap::new());
    }
    let mut records = state.store.records_by_parent(integration_id, model, parent_ids).await?;
    records.retain(|record| include_deleted || record.remote_deleted_at.is_none());
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let mut by_parent: HashMap<String, Vec<StoredRecord>> = HashMap::new();
    for record in records {
        if let Some(parent) = record.parent_id.clone() {
            by_parent.entry(parent).or_default().push(record);
        }
    }
    Ok(by_parent)
}

/// The string at `data[field]`, if it is one.
pub fn reference<'a>(data: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    data.get(field).and_then(Value::as_str).filter(|id| !id.is_empty())
}

/// The strings of the array at `data[field]`.
pub fn references<'a>(data: &'a Map<String, Value>, field: &str) -> impl Iterator<Item = &'a str> {
    data.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}
