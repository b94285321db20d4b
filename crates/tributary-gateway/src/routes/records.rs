//! `GET /v1/hris/*` and `GET /v1/ats/*`: one handler for every unified model, driven by the
//! model's [`Endpoint`] declaration.

use axum::extract::State;

use crate::assemble::Assembly;
use crate::auth::IntegrationAccess;
use crate::catalog::Endpoint;
use crate::error::ApiError;
use crate::filters;
use crate::list::{COMMON_PARAMS, ListQuery, fetch_page};
use crate::params::QueryParams;
use crate::response::{ListData, Success};
use crate::schema::shape;
use crate::state::GatewayState;

pub async fn list(
    endpoint: &'static Endpoint,
    state: State<GatewayState>,
    access: IntegrationAccess,
    params: QueryParams,
) -> Result<Success<ListData>, ApiError> {
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
    let page = fetch_page(&state, integration, endpoint.model, &list, filters).await?;
    let assembly = Assembly {
        state: &state,
        integration,
        include_deleted: list.include_deleted,
    };
    let results = assembly
        .render(page.records, shape(endpoint.model), endpoint.joins, endpoint.aliases)
        .await?;
    Ok(Success::new(ListData {
        next: page.next,
        results,
    }))
}
