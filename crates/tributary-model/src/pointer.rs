//! Removing values from a raw payload by JSON pointer: how a scope-disabled field leaves a
//! record's `remote_data`. Shared by the engine (before a record is stored) and the read API
//! (for rows stored before the field was disabled), so both strip exactly the same places.

use serde_json::Value;

/// Removes the value at a JSON pointer (RFC 6901), if present. Two extensions for places a
/// connector cannot name one by one:
/// - a `*` token matches every element of an array or every member of an object, so
///   `/rows/*/ssn` strips the field from each row;
/// - a token ending in `*` (`dynamic_*`) matches every member of an object whose key starts
///   with what precedes the `*`: custom attributes the tool names by a numbered key.
pub fn strip_pointer(value: &mut Value, pointer: &str) {
    let Some(rest) = pointer.strip_prefix('/') else { return };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    strip_tokens(value, &tokens);
}

/// Whether `value` holds anything at `pointer` (with the same wildcards as [`strip_pointer`]):
/// what the read API checks before it pays for stripping a row.
pub fn has_pointer(value: &Value, pointer: &str) -> bool {
    let Some(rest) = pointer.strip_prefix('/') else {
        return false;
    };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    holds(value, &tokens)
}

fn prefix_of(token: &str) -> Option<&str> {
    token.strip_suffix('*').filter(|p| !p.is_empty())
}

fn holds(value: &Value, tokens: &[String]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return true;
    };
    match value {
        Value::Object(map) if first == "*" => map.values().any(|v| holds(v, rest)),
        Value::Object(map) => match prefix_of(first) {
            Some(prefix) => map.iter().any(|(k, v)| k.starts_with(prefix) && holds(v, rest)),
            None => map.get(first.as_str()).is_some_and(|v| holds(v, rest)),
        },
        Value::Array(items) if first == "*" => items.iter().any(|v| holds(v, rest)),
        Value::Array(items) => first
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .is_some_and(|v| !v.is_null() && holds(v, rest)),
        _ => false,
    }
}

fn strip_tokens(value: &mut Value, tokens: &[String]) {
    let Some((first, rest)) = tokens.split_first() else {
        return;
    };
    match value {
        Value::Object(map) if first == "*" => {
            if rest.is_empty() {
                map.clear();
            } else {
                map.values_mut().for_each(|v| strip_tokens(v, rest));
            }
        }
        Value::Object(map) => match prefix_of(first) {
            Some(prefix) if rest.is_empty() => map.retain(|k, _| !k.starts_with(prefix)),
            Some(prefix) => map
                .iter_mut()
                .filter(|(k, _)| k.starts_with(prefix))
                .for_each(|(_, v)| strip_tokens(v, rest)),
            None if rest.is_empty() => {
                map.remove(first.as_str());
            }
            None => {
                if let Some(child) = map.get_mut(first.as_str()) {
                    strip_tokens(child, rest);
                }
            }
        },
        Value::Array(items) if first == "*" => items.iter_mut().for_each(|v| strip_tokens(v, rest)),
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

    #[test]
    fn prefix_tokens_strip_numbered_keys() {
        let mut v = json!({"a": {"dynamic_1": 1, "dynamic_22": {"value": "x"}, "dynamo": 3, "b": 4}});
        assert!(has_pointer(&v, "/a/dynamic_*"));
        assert!(!has_pointer(&v, "/a/custom*"));
        strip_pointer(&mut v, "/a/dynamic_*");
        assert_eq!(v, json!({"a": {"dynamo": 3, "b": 4}}));
        assert!(!has_pointer(&v, "/a/dynamic_*"));
        let mut w = json!({"m": {"k1": {"s": 1, "t": 2}, "k2": {"s": 3}}});
        assert!(has_pointer(&w, "/m/*/s"));
        strip_pointer(&mut w, "/m/*/s");
        assert_eq!(w, json!({"m": {"k1": {"t": 2}, "k2": {}}}));
    }
}
