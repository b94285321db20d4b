//! Loading what a page of records nests or links, a few queries per page (one per join and
//! level, never one per row), and turning stored records into the maps the response shapes
//! are rendered from. Each rendered item also names the records it shows or refers to, which
//! a stored rendering depends on.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::{BoxFuture, try_join_all};
use serde_json::{Map, Value};
use tributary_model::{Model, has_pointer, strip_pointer};
use tributary_store::{Integration, RawJson, RecordQuery, RecordReads, StoreError, StoredRecord};

use crate::schema::{Nested, Shape, render};
use crate::wire::{Wire, optional_timestamp, timestamp};

/// One item of a list endpoint: its rendering and the ids of the other records it shows or
/// names (found or not).
#[derive(Debug, Clone)]
pub struct Item {
    pub wire: Wire,
    pub deps: Vec<String>,
}

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

const REMOTE_DATA: &str = "remote_data";

/// A record taken apart for rendering: its stored `data` with the fields the mirror keeps
/// beside it (`id`, `remote_id`, `changed_at`, `remote_deleted_at`, `remote_created_at`),
/// moved rather than copied, and its `remote_data` still the stored JSON text, which is
/// written out without ever being parsed (it is about half of a response). Shapes pick what
/// their schema lists.
#[derive(Clone)]
pub struct Source {
    fields: Map<String, Value>,
    remote_data: Option<RawJson>,
}

pub fn record_source(record: StoredRecord) -> Source {
    let mut fields = record.data;
    fields.insert("id".into(), Value::String(record.id));
    fields.insert("remote_id".into(), Value::String(record.remote_id));
    fields.insert("changed_at".into(), Value::String(timestamp(&record.changed_at)));
    fields.insert(
        "remote_deleted_at".into(),
        optional_timestamp(record.remote_deleted_at.as_ref()),
    );
    fields.insert(
        "remote_created_at".into(),
        optional_timestamp(record.remote_created_at.as_ref()),
    );
    // A stored JSON `null` is no remote data, as an absent one is: the shape decides.
    let remote_data = record.remote_data.filter(|raw| !raw.is_null());
    if remote_data.is_none() {
        fields.insert(REMOTE_DATA.into(), Value::Null);
    }
    Source { fields, remote_data }
}

impl Source {
    /// Drops a field (one the scope config disables).
    fn remove(&mut self, field: &str) {
        self.fields.remove(field);
        if field == REMOTE_DATA {
            self.remote_data = None;
        }
    }

    /// Sets a field over what the record holds (a member entry's own keys).
    fn insert(&mut self, field: String, value: Value) {
        if field == REMOTE_DATA {
            self.remote_data = None;
        }
        self.fields.insert(field, value);
    }

    /// Renders through `shape` (see [`render`]).
    fn render(self, shape: &'static Shape, rendered: &mut Vec<(&'static str, Wire)>) -> Wire {
        let Source {
            mut fields,
            remote_data,
        } = self;
        if let Some(raw) = remote_data {
            match shape.fields.iter().find(|f| f.name == REMOTE_DATA).map(|f| &f.nested) {
                // Free-form in every schema: passed through as stored.
                Some(Nested::Scalar) => rendered.push((REMOTE_DATA, Wire::Raw(raw))),
                // A schema that shaped it would need the tree.
                Some(_) => match raw.to_value() {
                    Ok(value) => {
                        fields.insert(REMOTE_DATA.into(), value);
                    }
                    Err(_) => rendered.push((REMOTE_DATA, Wire::Raw(raw))),
                },
                None => {}
            }
        }
        render(shape, fields, rendered)
    }
}

/// What every level of a page's assembly shares.
pub(crate) struct Assembly<'a> {
    pub(crate) reads: &'a dyn RecordReads,
    pub(crate) integration: &'a Integration,
    /// Nested lists (children) show deleted entries only when the caller asked for deleted
    /// entries. Linked single records are shown even when deleted: a live employee's
    /// `manager_id` still names its manager after the manager left the tool, and the nested
    /// object's `remote_deleted_at` says so where the schema shows it.
    pub(crate) include_deleted: bool,
}

impl Assembly<'_> {
    /// `records` rendered through `shape`, in order, with every join loaded (one query per
    /// join and level) and rendered through its own part of `shape`. `aliases` repeat a key
    /// under another name (an employee's deprecated `teams`).
    pub(crate) fn render<'s>(
        &'s self,
        records: Vec<StoredRecord>,
        shape: &'static Shape,
        joins: &'static [Join],
        aliases: &'static [(&'static str, &'static str)],
    ) -> BoxFuture<'s, Result<Vec<Item>, StoreError>> {
        Box::pin(async move {
            let mut loaded = try_join_all(joins.iter().map(|join| self.load(&records, shape, join))).await?;
            let scope = &self.integration.scope_config;
            let mut pointers = DisabledPointers::default();
            Ok(records
                .into_iter()
                .map(|record| {
                    let disabled = scope.disabled_fields(record.model);
                    let mut deps = Vec::new();
                    let mut rendered: Vec<(&'static str, Wire)> = joins
                        .iter()
                        .zip(loaded.iter_mut())
                        .map(|(join, found)| (join.field, found.wire_for(&record, join, &mut deps)))
                        .collect();
                    for &(alias, of) in aliases {
                        if let Some((_, wire)) = rendered.iter().find(|(key, _)| *key == of) {
                            let copy = wire.clone();
                            rendered.push((alias, copy));
                        }
                    }
                    let source = self.source(record, &mut pointers);
                    for field in disabled {
                        rendered.retain(|(key, _)| *key != field);
                    }
                    Item {
                        wire: source.render(shape, &mut rendered),
                        deps,
                    }
                })
                .collect())
        })
    }

    async fn load(
        &self,
        records: &[StoredRecord],
        shape: &'static Shape,
        join: &'static Join,
    ) -> Result<Loaded, StoreError> {
        // A disabled model is never stored (or is being marked deleted): nothing to nest.
        if !self.integration.scope_config.model_enabled(join.model) || records.is_empty() {
            return Ok(Loaded::default());
        }
        let nested_shape = match shape.fields.iter().find(|f| f.name == join.field).map(|f| &f.nested) {
            Some(Nested::Object(inner) | Nested::ArrayOf(inner)) => inner,
            // Ruled out by the catalog's tests; an error rather than a panic all the same.
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "the response schema has no nested object `{}` to join into",
                    join.field
                )));
            }
        };
        let mut loaded = Loaded::default();
        match join.link {
            Link::One { by } => {
                let ids = records
                    .iter()
                    .filter_map(|r| reference(&r.data, by))
                    .map(str::to_owned)
                    .collect();
                let targets = self.by_ids(join.model, ids, nested_shape).await?;
                self.index(&mut loaded, targets, nested_shape, join).await?;
            }
            Link::Many { by } => {
                let ids = records
                    .iter()
                    .flat_map(|r| references(&r.data, by))
                    .map(str::to_owned)
                    .collect();
                let targets = self.by_ids(join.model, ids, nested_shape).await?;
                self.index(&mut loaded, targets, nested_shape, join).await?;
            }
            Link::Members { list, key } => {
                let ids = records
                    .iter()
                    .flat_map(|r| members(&r.data, list))
                    .filter_map(|member| reference(member, key))
                    .map(str::to_owned)
                    .collect();
                // Each member is its record plus the entry's own keys (a user's roles on this
                // job), so it is rendered per entry, from the records kept here.
                let mut pointers = DisabledPointers::default();
                for record in self.by_ids(join.model, ids, nested_shape).await? {
                    loaded.shape = Some(nested_shape);
                    loaded
                        .records
                        .insert(record.id.clone(), self.source(record, &mut pointers));
                }
            }
            Link::Children => {
                let parents: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
                let mut children = self
                    .reads
                    .records_by_parent(&self.integration.id, join.model, &parents)
                    .await?;
                children.retain(|child| self.include_deleted || child.remote_deleted_at.is_none());
                children.sort_by(|a, b| a.id.cmp(&b.id));
                let keys: Vec<(Option<String>, String)> =
                    children.iter().map(|c| (c.parent_id.clone(), c.id.clone())).collect();
                let items = self.render(children, nested_shape, join.nested, &[]).await?;
                for ((parent, id), mut item) in keys.into_iter().zip(items) {
                    if let Some(parent) = parent {
                        item.deps.push(id);
                        loaded.by_parent.entry(parent).or_default().push(item);
                    }
                }
            }
        }
        Ok(loaded)
    }

    /// Renders linked `targets` once each, to be shown wherever they are referenced.
    async fn index(
        &self,
        loaded: &mut Loaded,
        targets: Vec<StoredRecord>,
        shape: &'static Shape,
        join: &'static Join,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
        let items = self.render(targets, shape, join.nested, &[]).await?;
        loaded.by_id = ids
            .into_iter()
            .zip(items)
            .map(|(id, item)| (id, (Arc::new(item.wire), item.deps)))
            .collect();
        Ok(())
    }

    /// `record` taken apart for rendering, without what the scope config disables now. A field
    /// disabled after the record was last written is still stored until the complete pass that
    /// the scope change forces has rewritten it (see `Runs::finish_run`); meanwhile it is
    /// removed here, from `data` and, through the tool's JSON pointers, from `remote_data`.
    /// Only a row older than the integration's scope version pays for parsing its
    /// `remote_data`: a current one was stripped when it was written.
    fn source(&self, mut record: StoredRecord, pointers: &mut DisabledPointers) -> Source {
        let model = record.model;
        if record.scope_version < self.integration.scope_version
            && let Some(raw) = &record.remote_data
        {
            let pointers = pointers.of(self.integration, record.model);
            if !pointers.is_empty() {
                record.remote_data = Some(strip(raw, pointers));
            }
        }
        let mut source = record_source(record);
        for field in self.integration.scope_config.disabled_fields(model) {
            source.remove(field);
        }
        source
    }

    /// Records of `model` by unified id, deleted ones included, to be rendered through `shape`.
    /// Ids the mirror does not hold (not synced yet) are simply absent.
    async fn by_ids(
        &self,
        model: Model,
        ids: BTreeSet<String>,
        shape: &Shape,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = RecordQuery::new(&self.integration.id, model);
        query.include_deleted = true;
        // Summaries (an employee's manager) do not show it, and it is the largest column: a
        // page of 100 employees nests ~96 managers with ~4.5 KB of it each.
        query.with_remote_data = shape.fields.iter().any(|f| f.name == REMOTE_DATA);
        query.limit = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        query.ids = Some(ids.into_iter().collect());
        self.reads.query_records(&query).await
    }
}

/// The JSON pointers of the fields the scope disables, per model, looked up once per page.
#[derive(Default)]
struct DisabledPointers {
    pointers: HashMap<Model, Vec<String>>,
}

impl DisabledPointers {
    fn of(&mut self, integration: &Integration, model: Model) -> &[String] {
        self.pointers.entry(model).or_insert_with(|| {
            integration
                .scope_config
                .disabled_fields(model)
                .into_iter()
                .flat_map(|field| tributary_connectors::remote_paths(integration.tool, model, field))
                .collect()
        })
    }
}

/// `raw` without what `pointers` reach. JSON the store returned always parses; were it not to,
/// nothing of it is served rather than something disabled.
fn strip(raw: &RawJson, pointers: &[String]) -> RawJson {
    let Ok(mut value) = raw.to_value() else {
        return RawJson::from(Value::Null);
    };
    if !pointers.iter().any(|p| has_pointer(&value, p)) {
        return raw.clone();
    }
    for pointer in pointers {
        strip_pointer(&mut value, pointer);
    }
    RawJson::from(value)
}

/// The rendered records of one join, by what they are looked up with, each with what its own
/// rendering depends on.
#[derive(Default)]
struct Loaded {
    by_id: HashMap<String, (Arc<Wire>, Vec<String>)>,
    by_parent: HashMap<String, Vec<Item>>,
    /// For [`Link::Members`]: the member records' sources and the shape to render them with.
    records: HashMap<String, Source>,
    shape: Option<&'static Shape>,
}

impl Loaded {
    /// The value of `join` for `record`, adding to `deps` the ids it names and what the records
    /// it shows depend on. A child belongs to one parent, which a page shows once, so children
    /// are moved out rather than copied.
    fn wire_for(&mut self, record: &StoredRecord, join: &Join, deps: &mut Vec<String>) -> Wire {
        let linked = |id: &str, deps: &mut Vec<String>| {
            deps.push(id.to_owned());
            self.by_id.get(id).map(|(wire, of)| {
                deps.extend(of.iter().cloned());
                Wire::Shared(wire.clone())
            })
        };
        match join.link {
            Link::One { by } => reference(&record.data, by)
                .and_then(|id| linked(id, deps))
                .unwrap_or(Wire::Value(Value::Null)),
            Link::Many { by } => Wire::Array(references(&record.data, by).filter_map(|id| linked(id, deps)).collect()),
            Link::Members { list, key } => Wire::Array(
                members(&record.data, list)
                    .filter_map(|member| {
                        let shape = self.shape?;
                        let id = reference(member, key)?;
                        deps.push(id.to_owned());
                        let mut merged = self.records.get(id)?.clone();
                        for (k, v) in member {
                            if k != key {
                                merged.insert(k.clone(), v.clone());
                            }
                        }
                        Some(merged.render(shape, &mut Vec::new()))
                    })
                    .collect(),
            ),
            Link::Children => Wire::Array(
                self.by_parent
                    .remove(&record.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|child| {
                        deps.extend(child.deps);
                        child.wire
                    })
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
