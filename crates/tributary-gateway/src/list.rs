//! The list-endpoint machinery every unified model shares: common parameters, scope checks,
//! the filter fingerprint that binds cursors, and keyset paging over the mirror.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tributary_model::{Model, Timestamp};
use tributary_store::{FieldFilter, FieldMatch, Integration, RecordQuery};

use crate::cursor::Cursor;
use crate::error::ApiError;
use crate::filters::{Filters, RequestedFilter};
use crate::params::QueryParams;
use crate::state::GatewayState;

pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 250;

/// The parameters every list endpoint takes; the rest are the endpoint's own filters.
pub const COMMON_PARAMS: &[&str] = &[
    "cursor",
    "page_size",
    "updated_after",
    "include_deleted",
    "ignore_unsupported_filters",
    "ids",
    "remote_ids",
];

/// The parameters every `GET /v1/<category>/<model>` list endpoint takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub page_size: i64,
    pub updated_after: Option<Timestamp>,
    pub include_deleted: bool,
    pub ignore_unsupported_filters: bool,
    pub ids: Option<Vec<String>>,
    pub remote_ids: Option<Vec<String>>,
}

impl ListQuery {
    pub fn parse(params: &QueryParams) -> Result<Self, ApiError> {
        Ok(Self {
            cursor: params.text("cursor").map(str::to_owned),
            page_size: params.integer("page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?,
            updated_after: params.datetime("updated_after")?,
            include_deleted: params.flag("include_deleted", false)?,
            ignore_unsupported_filters: params.flag("ignore_unsupported_filters", false)?,
            ids: params.list("ids")?,
            remote_ids: params.list("remote_ids")?,
        })
    }

    /// A digest of everything that decides *which* rows a walk returns (not the page size,
    /// which may change between pages). Cursors carry it, so a cursor cannot be replayed
    /// against other filters.
    pub fn fingerprint(&self, filters: &[FieldFilter], remote_created_after: Option<Timestamp>) -> String {
        let canonical = json!([
            remote_created_after.map(|at| at.to_rfc3339()),
            self.updated_after.map(|at| at.to_rfc3339()),
            self.include_deleted,
            self.ignore_unsupported_filters,
            self.ids,
            self.remote_ids,
            filters.iter().map(filter_json).collect::<Vec<_>>(),
        ]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..16])
    }
}

fn filter_json(filter: &FieldFilter) -> Value {
    let matching = match &filter.matching {
        FieldMatch::Equals => json!("eq"),
        FieldMatch::ArrayContainsAny => json!("array"),
        FieldMatch::EntryEquals(key) => json!(["entry", key]),
        FieldMatch::EntryIsNull(key) => json!(["null", key]),
        FieldMatch::EqualsOrNull => json!("eq_or_null"),
        FieldMatch::ArrayEntryEquals(key) => json!(["array_entry", key]),
        FieldMatch::Contains => json!("contains"),
        FieldMatch::AtLeast { or_missing } => json!(["gte", or_missing]),
        FieldMatch::AtMost { or_missing } => json!(["lte", or_missing]),
        FieldMatch::ReferenceHas { via } => json!(["ref", via]),
        FieldMatch::ChildHas { model } => json!(["child", model.as_str()]),
    };
    json!([filter.field, filter.any_of, filter.case_insensitive, matching])
}

/// The read a page needs, or nothing to read (a filter that cannot match).
pub struct PagePlan {
    /// Asks one row more than the page holds: it tells whether another page exists without a
    /// COUNT.
    pub query: RecordQuery,
    fingerprint: String,
    page_size: usize,
}

impl PagePlan {
    /// Cuts `rows` (as the plan's query returned them) to the page and returns the cursor of
    /// the next page, if there is one.
    pub fn cut<T>(&self, state: &GatewayState, rows: &mut Vec<T>, id: impl Fn(&T) -> &str) -> Option<String> {
        if rows.len() <= self.page_size {
            return None;
        }
        rows.truncate(self.page_size);
        rows.last().map(|last| {
            Cursor::new(
                &self.query.integration_id,
                self.query.model,
                id(last),
                &self.fingerprint,
            )
            .encode(&state.cursor_key)
        })
    }
}

/// Plans the read of one page of `model` for `integration`; `None` when no record can match.
///
/// A filter on a field the integration's scope config disables cannot match (the field never
/// reaches storage), so, as Kombo documents for `ignore_unsupported_filters`, it filters out
/// every result unless the caller asked to ignore such filters.
pub fn plan_page(
    state: &GatewayState,
    integration: &Integration,
    model: Model,
    list: &ListQuery,
    filters: Filters,
) -> Result<Option<PagePlan>, ApiError> {
    let Filters {
        requested,
        remote_created_after,
    } = filters;
    if model.category() != integration.tool.category() {
        return Err(ApiError::ModelNotAvailable {
            model,
            tool: integration.tool,
        });
    }
    let scope = &integration.scope_config;
    if !scope.model_enabled(model) {
        return Err(ApiError::ModelDisabled(model));
    }
    let disabled = scope.disabled_fields(model);
    let mut filters = Vec::with_capacity(requested.len());
    let mut unsatisfiable = false;
    for RequestedFilter { filter, scope_field } in requested {
        if disabled.contains(&scope_field) {
            unsatisfiable |= !list.ignore_unsupported_filters;
        } else {
            filters.push(filter);
        }
    }

    let fingerprint = list.fingerprint(&filters, remote_created_after);
    let after_id = list
        .cursor
        .as_deref()
        .map(|token| Cursor::decode(token, &state.cursor_key, &integration.id, model, &fingerprint))
        .transpose()?
        .map(|cursor| cursor.after_id);
    if unsatisfiable {
        return Ok(None);
    }

    let query = RecordQuery {
        integration_id: integration.id.clone(),
        model,
        updated_after: list.updated_after,
        include_deleted: list.include_deleted,
        ids: list.ids.clone(),
        remote_ids: list.remote_ids.clone(),
        filters,
        remote_created_after,
        after_id,
        limit: list.page_size + 1,
        with_remote_data: true,
        statement_timeout: state.read_statement_timeout,
    };
    Ok(Some(PagePlan {
        query,
        fingerprint,
        page_size: usize::try_from(list.page_size).unwrap_or(usize::MAX),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_page_size_but_not_filters() {
        let params = |pairs: &[(&str, &str)]| {
            QueryParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
        };
        let a = ListQuery::parse(&params(&[("page_size", "10"), ("ids", "x,y")])).unwrap();
        let b = ListQuery::parse(&params(&[("page_size", "20"), ("ids", "x, y")])).unwrap();
        let c = ListQuery::parse(&params(&[("ids", "x")])).unwrap();
        assert_eq!(a.fingerprint(&[], None), b.fingerprint(&[], None));
        assert_ne!(a.fingerprint(&[], None), c.fingerprint(&[], None));
        let f = FieldFilter::equals("work_email", vec!["a@b.c".into()]);
        assert_ne!(a.fingerprint(&[], None), a.fingerprint(&[f], None));
        assert_ne!(a.fingerprint(&[], None), a.fingerprint(&[], Some(chrono::Utc::now())));
    }

    /// Each endpoint takes exactly the parameters Kombo's document lists for it.
    #[test]
    fn filters_match_the_contract() {
        for &model in Model::ALL {
            let endpoint = tributary_render::catalog::endpoint(model);
            let parameters = tributary_render::openapi::kombo()
                .get("paths")
                .get(model.api_path())
                .get("get")
                .get("parameters");
            let mut documented: Vec<String> = parameters
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p.get("in").as_str() == Some("query"))
                .filter_map(|p| p.get("name").as_str().map(str::to_owned))
                .filter(|name| !COMMON_PARAMS.contains(&name.as_str()))
                .collect();
            documented.sort();
            let mut ours: Vec<String> = endpoint.filters.iter().map(|f| f.param.to_owned()).collect();
            ours.sort();
            assert_eq!(ours, documented, "{model}");
        }
    }
}
