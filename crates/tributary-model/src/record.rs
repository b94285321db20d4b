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
    let canonical = serde_json::json!({
        "data": record.data,
        "remote_data": record.remote_data,
        "remote_created_at": record.remote_created_at,
        "parent": record.parent,
        "depends_on": record.depends_on,
    });
    serde_json::to_writer(HashWriter(&mut hasher), &canonical).expect("hashing cannot fail");
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
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
}
