//! Loading what a page of records nests or links, a few queries per page (one per join and
//! level, never one per row), and turning stored records into the maps the response shapes
//! are rendered from.

use std::collections::{BTreeSet, HashMap};

use futures::future::{BoxFuture, try_join_all};
use serde_json::{Map, Value};
use tributary_model::Model;
use tributary_store::{Integration, RecordQuery, StoredRecord};

use crate::error::ApiError;
use crate::state::GatewayState;
use crate::wire::{optional_timestamp, timestamp};

/// How a nested key of a response finds its records.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    /// `data[by]` is the id of one record (an employee's `manager_id`).
    One { by: &'static str },
    /// `data[by]` is an array of ids (an employee's `group_ids`).
    Many { by: &'static str },
    /// The records whose parent is this one (an employee's employments).
    Children,
    /// `data[list]` is an array of objects, each naming a record by `data[list][i][key]`; the
    /// result is that record with the entry's other keys merged in (a job's hiring team: users
    /// with their roles on the job).
    Members { list: &'static str, key: &'static str },
}

/// One nested key of a response: `field` is filled with records of `model`, found by `link`,
/// each with its own `nested` keys.
#[derive(Debug, Clone, Copy)]
pub struct Join {
    pub field: &'static str,
    pub model: Model,
    pub link: Link,
    pub nested: &'static [Join],
}

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

/// What every level of a page's assembly shares.
pub struct Assembly<'a> {
    pub state: &'a GatewayState,
    pub integration: &'a Integration,
    /// Nested lists (children) show deleted entries only when the caller asked for deleted
    /// entries. Linked single records are shown even when deleted: a live employee's
    /// `manager_id` still names its manager after the manager left the tool, and the nested
    /// object's `remote_deleted_at` says so where the schema shows it.
    pub include_deleted: bool,
}

impl Assembly<'_> {
    /// The source maps of `records`, in order, with every join filled in.
    pub fn sources<'s>(
        &'s self,
        records: &'s [StoredRecord],
        joins: &'static [Join],
    ) -> BoxFuture<'s, Result<Vec<Map<String, Value>>, ApiError>> {
        Box::pin(async move {
            let loaded = try_join_all(joins.iter().map(|join| self.load(records, join))).await?;
            let scope = &self.integration.scope_config;
            Ok(records
                .iter()
                .map(|record| {
                    let mut source = record_source(record);
                    for (join, found) in joins.iter().zip(&loaded) {
                        source.insert(join.field.to_owned(), found.value_for(record, join));
                    }
                    // A field disabled after this record was last written is still stored
                    // until the complete sync that a scope change queues rewrites it; it is
                    // not shown in the meantime.
                    for field in scope.disabled_fields(record.model) {
                        source.remove(field);
                    }
                    source
                })
                .collect())
        })
    }

    async fn load(&self, records: &[StoredRecord], join: &'static Join) -> Result<Loaded, ApiError> {
        // A disabled model is never stored (or is being marked deleted): nothing to nest.
        if !self.integration.scope_config.model_enabled(join.model) || records.is_empty() {
            return Ok(Loaded::default());
        }
        let targets = match join.link {
            Link::One { by } => {
                let ids = records.iter().filter_map(|r| reference(&r.data, by)).map(str::to_owned).collect();
                self.by_ids(join.model, ids).await?
            }
            Link::Many { by } => {
                let ids = records.iter().flat_map(|r| references(&r.data, by)).map(str::to_owned).collect();
                self.by_ids(join.model, ids).await?
            }
            Link::Members { list, key } => {
                let ids = records
                    .iter()
                    .flat_map(|r| members(&r.data, list))
                    .filter_map(|member| reference(member, key))
                    .map(str::to_owned)
                    .collect();
                self.by_ids(join.model, ids).await?
            }
            Link::Children => {
                let parents: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
                let mut children = self
                    .state
                    .store
                    .records_by_parent(&self.integration.id, join.model, &parents)
                    .await?;
                children.retain(|child| self.include_deleted || child.remote_deleted_at.is_none());
                children.sort_by(|a, b| a.id.cmp(&b.id));
                children
            }
        };
        let sources = self.sources(&targets, join.nested).await?;
        let mut loaded = Loaded::default();
        for (record, source) in targets.iter().zip(sources) {
            match join.link {
                Link::Children => {
                    if let Some(parent) = &record.parent_id {
                        loaded.by_parent.entry(parent.clone()).or_default().push(source);
                    }
                }
                _ => {
                    loaded.by_id.insert(record.id.clone(), source);
                }
            }
        }
        Ok(loaded)
    }

    /// Records of `model` by unified id, deleted ones included. Ids the mirror does not hold
    /// (not synced yet) are simply absent.
    async fn by_ids(&self, model: Model, ids: BTreeSet<String>) -> Result<Vec<StoredRecord>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = RecordQuery::new(&self.integration.id, model);
        query.include_deleted = true;
        query.limit = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        query.ids = Some(ids.into_iter().collect());
        Ok(self.state.store.query_records(&query).await?)
    }
}

/// The loaded records of one join, by what they are looked up with.
#[derive(Default)]
struct Loaded {
    by_id: HashMap<String, Map<String, Value>>,
    by_parent: HashMap<String, Vec<Map<String, Value>>>,
}

impl Loaded {
    fn value_for(&self, record: &StoredRecord, join: &Join) -> Value {
        let object = |source: &Map<String, Value>| Value::Object(source.clone());
        match join.link {
            Link::One { by } => reference(&record.data, by)
                .and_then(|id| self.by_id.get(id))
                .map_or(Value::Null, object),
            Link::Many { by } => Value::Array(
                references(&record.data, by)
                    .filter_map(|id| self.by_id.get(id))
                    .map(object)
                    .collect(),
            ),
            Link::Members { list, key } => Value::Array(
                members(&record.data, list)
                    .filter_map(|member| {
                        let mut merged = self.by_id.get(reference(member, key)?)?.clone();
                        for (k, v) in member {
                            if k != key {
                                merged.insert(k.clone(), v.clone());
                            }
                        }
                        Some(Value::Object(merged))
                    })
                    .collect(),
            ),
            Link::Children => Value::Array(
                self.by_parent
                    .get(&record.id)
                    .into_iter()
                    .flatten()
                    .map(object)
                    .collect(),
            ),
        }
    }
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

fn members<'a>(data: &'a Map<String, Value>, field: &str) -> impl Iterator<Item = &'a Map<String, Value>> {
    data.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}
