use serde_json::Value;
use tributary_model::{IdGen, ScopeConfig, SourceRecord, content_hash};
use tributary_source::Connector;
use tributary_store::PreparedRecord;

/// Turns a connector's record into what the mirror stores: disabled fields stripped from the
/// unified data *and* from the raw payload (invariant I6), ids derived, content hashed.
/// Returns `None` for records of a disabled model.
pub fn prepare_record(
    mut record: SourceRecord,
    scope: &ScopeConfig,
    ids: &IdGen,
    connector: &dyn Connector,
) -> Option<PreparedRecord> {
    if !scope.model_enabled(record.model) {
        return None;
    }
    for field in scope.disabled_fields(record.model) {
        record.data.remove(field);
        if let Some(raw) = record.remote_data.as_mut() {
            for pointer in connector.remote_paths(record.model, field) {
                strip_pointer(raw, &pointer);
            }
        }
    }
    // Hash after stripping: toggling a disabled field at the source must not count as change.
    let hash = content_hash(&record);
    let id = ids.id(record.model, &record.remote_id);
    let parent_id = record.parent.as_ref().map(|(m, r)| ids.id(*m, r));
    let depends_on = record.depends_on.iter().map(|(m, r)| ids.id(*m, r)).collect();
    Some(PreparedRecord {
        model: record.model,
        id,
        remote_id: record.remote_id,
        parent_id,
        depends_on,
        data: record.data,
        remote_data: record.remote_data,
        remote_created_at: record.remote_created_at,
        hash,
    })
}

/// Removes the value at a JSON pointer (RFC 6901), if present. A `*` token matches every
/// element of an array, so `/rows/*/ssn` strips the field from each row.
pub fn strip_pointer(value: &mut Value, pointer: &str) {
    let Some(rest) = pointer.strip_prefix('/') else { return };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    strip_tokens(value, &tokens);
}

fn strip_tokens(value: &mut Value, tokens: &[String]) {
    let Some((first, rest)) = tokens.split_first() else {
        return;
    };
    if first == "*" {
        if let Value::Array(items) = value {
            for item in items {
                strip_tokens(item, rest);
            }
        }
        return;
    }
    match value {
        Value::Object(map) if rest.is_empty() => {
            map.remove(first);
        }
        Value::Object(map) => {
            if let Some(child) = map.get_mut(first) {
                strip_tokens(child, rest);
            }
        }
        Value::Array(items) => {
            let Ok(i) = first.parse::<usize>() else { return };
            if rest.is_empty() {
                if i < items.len() {
                    items[i] = Value::Null;
                }
            } else if let Some(child) = items.get_mut(i) {
                strip_tokens(child, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_escaped_keys_and_wildcards() {
        let mut v = json!({"/v1/company/employees": {"attributes": {"ssn": {"value": "1"}, "name": "a"}},
                           "rows": [{"ssn": 1, "x": 2}, {"ssn": 3}]});
        strip_pointer(&mut v, "/~1v1~1company~1employees/attributes/ssn");
        strip_pointer(&mut v, "/rows/*/ssn");
        strip_pointer(&mut v, "/missing/path");
        assert_eq!(
            v,
            json!({"/v1/company/employees": {"attributes": {"name": "a"}}, "rows": [{"x": 2}, {}]})
        );
    }
}
