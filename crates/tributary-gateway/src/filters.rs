//! Turns an endpoint's filter parameters ([`crate::catalog::Filter`]) into the mirror's
//! [`FieldFilter`]s, with an input error a caller can act on for every bad value.

use serde_json::{Map, Value};
use tributary_model::{Timestamp, record_id};
use tributary_store::{FieldFilter, FieldMatch};

use crate::catalog::{Endpoint, FilterKind};
use crate::error::ApiError;
use crate::params::QueryParams;

/// A filter a caller asked for, with the unified field it reads, whose scope setting decides
/// whether the integration supports it.
#[derive(Debug, Clone)]
pub struct RequestedFilter {
    pub filter: FieldFilter,
    pub scope_field: &'static str,
}

/// What an endpoint's filters ask of the mirror.
#[derive(Debug, Default)]
pub struct Filters {
    pub requested: Vec<RequestedFilter>,
    /// `remote_created_after`, a column rather than a `data` field.
    pub remote_created_after: Option<Timestamp>,
}

pub fn parse(endpoint: &Endpoint, params: &QueryParams, integration_id: &str) -> Result<Filters, ApiError> {
    let mut out = Filters::default();
    for spec in endpoint.filters {
        let name = spec.param;
        let field = spec.field;
        let matching = |matching: FieldMatch, any_of: Vec<String>| FieldFilter {
            matching,
            ..FieldFilter::equals(field, any_of)
        };
        let filter = match spec.kind {
            FilterKind::AnyOf => params.list(name)?.map(|ids| FieldFilter::equals(field, ids)),
            FilterKind::Enum(allowed) => params
                .enum_list(name, allowed)?
                .map(|values| FieldFilter::equals(field, values)),
            FilterKind::EnumOrNull(allowed) => {
                let mut with_null = allowed.to_vec();
                with_null.push("null");
                params.enum_list(name, &with_null)?.map(|values| {
                    if values.iter().any(|v| v == "null") {
                        let rest = values.into_iter().filter(|v| v != "null").collect();
                        matching(FieldMatch::EqualsOrNull, rest)
                    } else {
                        FieldFilter::equals(field, values)
                    }
                })
            }
            FilterKind::Exact => params
                .text(name)
                .map(|value| FieldFilter::equals(field, vec![value.to_owned()])),
            FilterKind::AnyOfCaseInsensitive => params.list(name)?.map(|values| FieldFilter {
                case_insensitive: true,
                ..FieldFilter::equals(field, values)
            }),
            FilterKind::ExactCaseInsensitive => params.text(name).map(|value| FieldFilter {
                case_insensitive: true,
                ..FieldFilter::equals(field, vec![value.to_owned()])
            }),
            FilterKind::ArrayEntryCaseInsensitive(key) => params.text(name).map(|value| FieldFilter {
                case_insensitive: true,
                ..matching(FieldMatch::ArrayEntryEquals(key.to_owned()), vec![value.to_owned()])
            }),
            FilterKind::Contains => params.text(name).map(|value| FieldFilter {
                case_insensitive: true,
                ..matching(FieldMatch::Contains, vec![value.to_owned()])
            }),
            FilterKind::ArrayContainsAny => params
                .list(name)?
                .map(|ids| matching(FieldMatch::ArrayContainsAny, ids)),
            FilterKind::ChildHas(model) => params
                .list(name)?
                .map(|ids| matching(FieldMatch::ChildHas { model }, ids)),
            FilterKind::ReferenceHas(via) => params
                .list(name)?
                .map(|ids| matching(FieldMatch::ReferenceHas { via: via.to_owned() }, ids)),
            FilterKind::RemoteIdsOf(model) => params.list(name)?.map(|remote_ids| {
                // Unified ids derive from (integration, model, remote id), so the remote ids
                // translate without a lookup.
                let ids = remote_ids.iter().map(|r| record_id(integration_id, model, r)).collect();
                FieldFilter::equals(field, ids)
            }),
            FilterKind::RemoteCreatedAfter => {
                if let Some(at) = params.datetime(name)? {
                    // Two spellings of one filter: the later bound wins.
                    out.remote_created_after = out.remote_created_after.max(Some(at));
                }
                continue;
            }
            FilterKind::DateFrom => params.datetime(name)?.map(|at| {
                // Stored dates are `YYYY-MM-DD` (times `YYYY-MM-DDTHH:MM:SS...`); byte order is
                // time order. Open-ended absences have not ended, so they match.
                let day = at.date_naive().format("%Y-%m-%d").to_string();
                matching(FieldMatch::AtLeast { or_missing: true }, vec![day])
            }),
            FilterKind::DateUntil => params.datetime(name)?.map(|at| {
                // `~` sorts after every character of a time, so `2024-05-01T10:00` is still
                // "on or before 2024-05-01".
                let day = at.date_naive().format("%Y-%m-%d~").to_string();
                matching(FieldMatch::AtMost { or_missing: false }, vec![day])
            }),
            FilterKind::CustomField => params.text(name).map(custom_field_filter).transpose()?,
        };
        if let Some(filter) = filter {
            out.requested.push(RequestedFilter {
                filter,
                scope_field: spec.scope_field,
            });
        }
    }
    Ok(out)
}

/// `custom_fields={"key": value}`: exactly one entry whose value is a string, number, boolean
/// or null.
fn custom_field_filter(text: &str) -> Result<FieldFilter, ApiError> {
    let invalid = |why: &str| {
        ApiError::invalid(format!(
            "`custom_fields` must be a JSON object with exactly one key and a string, number, boolean or null value ({why})."
        ))
    };
    let object: Map<String, Value> = serde_json::from_str(text).map_err(|_| invalid("not a JSON object"))?;
    let mut entries = object.into_iter();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        return Err(invalid("it must have exactly one key"));
    };
    if key.contains('\0') {
        return Err(invalid("the key contains a NUL character"));
    }
    let text = match value {
        Value::Null => {
            return Ok(FieldFilter {
                matching: FieldMatch::EntryIsNull(key),
                ..FieldFilter::equals("custom_fields", Vec::new())
            });
        }
        Value::String(text) => text,
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Array(_) | Value::Object(_) => return Err(invalid("arrays and objects are not supported")),
    };
    Ok(FieldFilter {
        matching: FieldMatch::EntryEquals(key),
        ..FieldFilter::equals("custom_fields", vec![text])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::endpoint;
    use tributary_model::Model;

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn parses_custom_field_filters() {
        let f = custom_field_filter(r#"{"cost_center": 42}"#).unwrap();
        assert_eq!(
            (f.field.as_str(), f.any_of, f.matching),
            (
                "custom_fields",
                vec!["42".to_string()],
                FieldMatch::EntryEquals("cost_center".into())
            )
        );
        let f = custom_field_filter(r#"{"remote": true}"#).unwrap();
        assert_eq!(f.any_of, vec!["true".to_string()]);
        let f = custom_field_filter(r#"{"x": null}"#).unwrap();
        assert_eq!(f.matching, FieldMatch::EntryIsNull("x".into()));
        for bad in [
            r#"{}"#,
            r#"{"a":1,"b":2}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
            "[1]",
            "nope",
        ] {
            assert!(custom_field_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_each_kind() {
        let groups = parse(endpoint(Model::Groups), &params(&[("types", "TEAM,null")]), "i").unwrap();
        let f = &groups.requested[0].filter;
        assert_eq!(
            (f.matching.clone(), f.any_of.clone()),
            (FieldMatch::EqualsOrNull, vec!["TEAM".into()])
        );
        assert!(parse(endpoint(Model::Groups), &params(&[("types", "SQUAD")]), "i").is_err());

        let absences = parse(
            endpoint(Model::Absences),
            &params(&[("date_from", "2024-05-01T13:00:00Z"), ("date_until", "2024-05-31")]),
            "i",
        )
        .unwrap();
        assert_eq!(absences.requested[0].filter.any_of, vec!["2024-05-01".to_string()]);
        assert_eq!(absences.requested[1].filter.any_of, vec!["2024-05-31~".to_string()]);
        assert!(parse(endpoint(Model::Absences), &params(&[("date_from", "May 1st")]), "i").is_err());

        let apps = parse(
            endpoint(Model::Applications),
            &params(&[("job_remote_ids", "7"), ("remote_created_after", "2024-01-01")]),
            "greenhouse:x",
        )
        .unwrap();
        assert_eq!(
            apps.requested[0].filter.any_of,
            vec![record_id("greenhouse:x", Model::Jobs, "7")]
        );
        assert!(apps.remote_created_after.is_some());
    }
}
