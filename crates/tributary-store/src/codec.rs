//! Text encodings of enums shared by both backends' rows.

use serde_json::{Value, json};
use tributary_model::{Model, PauseReason, RunState, SyncType, ToolKind};

use crate::{ChangeKind, FieldMatch, RecordQuery, StoreError};

pub(crate) fn parse_model(name: &str) -> Result<Model, StoreError> {
    Model::from_name(name).ok_or_else(|| StoreError::Corrupt(format!("unknown model {name:?}")))
}

pub(crate) fn kind_str(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Created => "created",
        ChangeKind::Updated => "updated",
        ChangeKind::Deleted => "deleted",
    }
}

pub(crate) fn parse_kind(kind: &str) -> Result<ChangeKind, StoreError> {
    match kind {
        "created" => Ok(ChangeKind::Created),
        "updated" => Ok(ChangeKind::Updated),
        "deleted" => Ok(ChangeKind::Deleted),
        other => Err(StoreError::Corrupt(format!("unknown change kind {other:?}"))),
    }
}

pub(crate) fn parse_tool(tool: &str) -> Result<ToolKind, StoreError> {
    ToolKind::parse(tool).ok_or_else(|| StoreError::Corrupt(format!("unknown tool {tool:?}")))
}

pub(crate) fn parse_sync_type(t: &str) -> Result<SyncType, StoreError> {
    SyncType::parse(t).ok_or_else(|| StoreError::Corrupt(format!("unknown sync type {t:?}")))
}

pub(crate) fn parse_state(s: &str) -> Result<RunState, StoreError> {
    RunState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown run state {s:?}")))
}

pub(crate) fn parse_pause_reason(s: &str) -> Result<PauseReason, StoreError> {
    PauseReason::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown pause reason {s:?}")))
}

pub(crate) fn into_object(value: Value) -> Result<serde_json::Map<String, Value>, StoreError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(StoreError::Corrupt(format!("record data is not an object: {other}"))),
    }
}

/// The field filters as one JSON parameter, so the statement stays static whatever their
/// number: `[{"kind", "field", "key", "any_of", "ci", "or_missing"}]` with `kind` one of
/// `equals`, `equals_or_null`, `array`, `entry`, `entry_null`, `array_entry`, `contains`, `gte`, `lte`,
/// `ref_has` (`key` = the referencing field), `child_has` (`key` = the child model).
pub(crate) fn filters_json(query: &RecordQuery) -> Value {
    Value::Array(
        query
            .filters
            .iter()
            .map(|f| {
                let (kind, key, or_missing) = match &f.matching {
                    FieldMatch::Equals => ("equals", None, false),
                    FieldMatch::ArrayContainsAny => ("array", None, false),
                    FieldMatch::EntryEquals(key) => ("entry", Some(key.as_str()), false),
                    FieldMatch::EntryIsNull(key) => ("entry_null", Some(key.as_str()), false),
                    FieldMatch::EqualsOrNull => ("equals_or_null", None, false),
                    FieldMatch::ArrayEntryEquals(key) => ("array_entry", Some(key.as_str()), false),
                    FieldMatch::Contains => ("contains", None, false),
                    FieldMatch::AtLeast { or_missing } => ("gte", None, *or_missing),
                    FieldMatch::AtMost { or_missing } => ("lte", None, *or_missing),
                    FieldMatch::ReferenceHas { via } => ("ref_has", Some(via.as_str()), false),
                    FieldMatch::ChildHas { model } => ("child_has", Some(model.as_str()), false),
                };
                json!({
                    "kind": kind, "field": f.field, "key": key, "any_of": f.any_of,
                    "ci": f.case_insensitive, "or_missing": or_missing,
                })
            })
            .collect(),
    )
}

pub(crate) fn delivery_state_str(state: crate::DeliveryState) -> &'static str {
    match state {
        crate::DeliveryState::Pending => "PENDING",
        crate::DeliveryState::Delivered => "DELIVERED",
        crate::DeliveryState::Dead => "DEAD",
    }
}

pub(crate) fn parse_delivery_state(s: &str) -> Result<crate::DeliveryState, StoreError> {
    match s {
        "PENDING" => Ok(crate::DeliveryState::Pending),
        "DELIVERED" => Ok(crate::DeliveryState::Delivered),
        "DEAD" => Ok(crate::DeliveryState::Dead),
        other => Err(StoreError::Corrupt(format!("unknown delivery state {other:?}"))),
    }
}
