//! `GET /v1/hris/*` and `GET /v1/ats/*`: one handler for every unified model, driven by the
//! model's [`Endpoint`] declaration.
//!
//! A page is served from stored renderings (`tributary_store::rendering`): one keyset scan
//! returns each row's ready item, and the envelope is written around them. Items whose
//! rendering is not ready (pending, or made under an older scope config) are rendered live,
//! and so is every item of a request with `include_deleted` (its nested lists show deleted
//! entries too, which stored renderings leave out). Both go through
//! [`tributary_render::render_items`], so the bytes are the same either way.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tributary_model::Model;
use tributary_render::render_items;
use tributary_store::{Integration, RecordQuery, StoreError, StoreReads, StoredRecord};

use crate::auth::IntegrationAccess;
use crate::catalog::Endpoint;
use crate::error::ApiError;
use crate::filters;
use crate::list::{COMMON_PARAMS, ListQuery, PagePlan, plan_page};
use crate::params::QueryParams;
use crate::response::{ListData, RawList, Success};
use crate::state::GatewayState;
use crate::wire::Wire;

pub async fn list(
    endpoint: &'static Endpoint,
    state: State<GatewayState>,
    access: IntegrationAccess,
    params: QueryParams,
) -> Result<Response, ApiError> {
    let State(state) = state;
    let integration = &access.integration;
    params.only(
        COMMON_PARAMS
            .iter()
            .copied()
            .chain(endpoint.filters.iter().map(|f| f.param)),
    )?;
    let list = ListQuery::parse(&params)?;
    let filters = filters::parse(endpoint, &params, &integration.id)?;
    let Some(plan) = plan_page(&state, integration, endpoint.model, &list, filters)? else {
        return Ok(Success::new(ListData {
            next: None,
            results: Vec::new(),
        })
        .into_response());
    };
    if state.stored_pages && !list.include_deleted {
        return Ok(stored_page(&state, integration, &plan).await?.into_response());
    }
    let mut records = state.store.query_records(&plan.query).await?;
    let next = plan.cut(&state, &mut records, |r| &r.id);
    let results = render(&state, integration, endpoint.model, records, list.include_deleted).await?;
    state
        .page_sources
        .live
        .fetch_add(results.len() as u64, Ordering::Relaxed);
    Ok(Success::new(ListData { next, results }).into_response())
}

/// The page from stored renderings, rendering live only the rows whose rendering is not ready.
async fn stored_page(state: &GatewayState, integration: &Integration, plan: &PagePlan) -> Result<RawList, ApiError> {
    let mut rows = state
        .store
        .rendered_page(&plan.query, integration.scope_version)
        .await?;
    let next = plan.cut(state, &mut rows, |r| &r.id);
    let missing: Vec<String> = rows.iter().filter(|r| r.body.is_none()).map(|r| r.id.clone()).collect();
    let mut live = HashMap::with_capacity(missing.len());
    if !missing.is_empty() {
        let mut query = RecordQuery::new(&integration.id, plan.query.model);
        query.limit = i64::try_from(missing.len()).unwrap_or(i64::MAX);
        query.ids = Some(missing);
        query.statement_timeout = state.read_statement_timeout;
        let records = state.store.query_records(&query).await?;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let wires = render(state, integration, plan.query.model, records, false).await?;
        for (id, wire) in ids.into_iter().zip(wires) {
            let text = serde_json::to_string(&wire)
                .map_err(|e| ApiError::Internal(StoreError::Corrupt(format!("rendering {id}: {e}"))))?;
            live.insert(id, text);
        }
    }
    let (mut stored, mut rendered) = (0u64, 0u64);
    // A row deleted between the two reads has no live rendering either: it is left out, as a
    // read a moment later would.
    let items: Vec<String> = rows
        .into_iter()
        .filter_map(|row| match row.body {
            Some(body) => {
                stored += 1;
                Some(body)
            }
            None => {
                rendered += 1;
                live.remove(&row.id)
            }
        })
        .collect();
    state.page_sources.stored.fetch_add(stored, Ordering::Relaxed);
    state.page_sources.live.fetch_add(rendered, Ordering::Relaxed);
    Ok(RawList { next, items })
}

async fn render(
    state: &GatewayState,
    integration: &Integration,
    model: Model,
    records: Vec<StoredRecord>,
    include_deleted: bool,
) -> Result<Vec<Wire>, ApiError> {
    let items = render_items(&StoreReads(&*state.store), integration, model, records, include_deleted).await?;
    Ok(items.into_iter().map(|item| item.wire).collect())
}
