use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{Model, Timestamp};

/// One record as a connector hands it to the engine: already mapped to the unified model,
/// with its raw payload kept beside it.
///
/// `data` holds the unified fields only (e.g. `first_name`, `manager_id`, `employment_status`);
/// the mirror adds `id`, `remote_id`, `changed_at` and `remote_deleted_at` itself. References
/// inside `data` are unified ids made with [`crate::IdGen`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub model: Model,
    pub remote_id: String,
    pub data: Map<String, Value>,
    /// The tool's raw payload(s) for this record, keyed by endpoint path as Kombo does
    /// (e.g. `{"/company/employees": {...}}`). Scope filtering strips disabled fields from it.
    pub remote_data: Option<Value>,
    pub remote_created_at: Option<Timestamp>,
    /// The record this one is nested under in the API (an employment's employee, a stage's
    /// job). Its changes, additions and removals move the parent's `updated_after` marker.
    pub parent: Option<(Model, String)>,
    /// Records whose own changes move this record's `updated_after` marker without touching its
    /// `changed_at` (an employee's manager, legal entity and work location). Remote ids.
    pub depends_on: Vec<(Model, String)>,
}

impl SourceRecord {
    pub fn new(model: Model, remote_id: impl Into<String>, data: Map<String, Value>) -> Self {
        Self {
            model,
            remote_id: remote_id.into(),
            data,
            remote_data: None,
            remote_created_at: None,
            parent: None,
            depends_on: Vec::new(),
        }
    }

    pub fn with_remote_data(mut self, remote_data: Value) -> Self {
        self.remote_data = Some(remote_data);
        self
    }

    pub fn with_remote_created_at(mut self, at: Option<Timestamp>) -> Self {
        self.remote_created_at = at;
        self
    }

    pub fn with_parent(mut self, model: Model, remote_id: impl Into<String>) -> Self {
        self.parent = Some((model, remote_id.into()));
        self
    }

    pub fn depending_on(mut self, model: Model, remote_id: impl Into<String>) -> Self {
        self.depends_on.push((model, remote_id.into()));
        self
    }
}

/// The content hash that decides whether a record changed (invariant I2).
///
/// serde_json's `Map` is a `BTreeMap` (no `preserve_order`), so serialisation is canonical:
/// the same content always yields the same bytes, whatever order the tool sent keys in.
pub fn content_hash(record: &SourceRecord) -> [u8; 16] {
    let mut hasher = Sha256::new();
    let canonical = Canonical {
        data: &record.data,
        depends_on: &record.depends_on,
        parent: &record.parent,
        remote_created_at: &record.remote_created_at,
        remote_data: &record.remote_data,
    };
    serde_json::to_writer(HashWriter(&mut hasher), &canonical).expect("hashing cannot fail");
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// What [`content_hash`] hashes, borrowed: serialising it writes exactly the bytes of the JSON
/// object `{"data", "depends_on", "parent", "remote_created_at", "remote_data"}` (fields in
/// that sorted order, as a `Map` would write them), without first deep-copying the record into
/// a `Value` — the copy and its drop were most of the engine's per-record CPU.
#[derive(Serialize)]
struct Canonical<'a> {
    data: &'a Map<String, Value>,
    depends_on: &'a [(Model, String)],
    parent: &'a Option<(Model, String)>,
    remote_created_at: &'a Option<Timestamp>,
    remote_data: &'a Option<Value>,
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> SourceRecord {
        SourceRecord::new(Model::Employees, "1", v.as_object().unwrap().clone())
    }

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"x":1,"y":2}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"y":2,"x":1},"a":1}"#).unwrap();
        assert_eq!(content_hash(&rec(a)), content_hash(&rec(b)));
        assert_ne!(content_hash(&rec(json!({"a":1}))), content_hash(&rec(json!({"a":2}))));
    }

    /// Mirrors hashed before the borrowed serialisation must not see every record as changed.
    #[test]
    fn hash_bytes_match_the_json_object_form() {
        let record = rec(json!({"first_name": "Ada", "n": [1, {"b": 2, "a": null}]}))
            .with_remote_data(json!({"/v1/x": {"id": 7}}))
            .with_remote_created_at(Some(chrono::DateTime::from_timestamp(1_700_000_000, 123_000).unwrap()))
            .with_parent(Model::Employees, "9")
            .depending_on(Model::Locations, "3");
        let object = json!({
            "data": record.data,
            "remote_data": record.remote_data,
            "remote_created_at": record.remote_created_at,
            "parent": record.parent,
            "depends_on": record.depends_on,
        });
        let mut hasher = Sha256::new();
        serde_json::to_writer(HashWriter(&mut hasher), &object).unwrap();
        assert_eq!(content_hash(&record)[..], hasher.finalize()[..16]);
    }
}
