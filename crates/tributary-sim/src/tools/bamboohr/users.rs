//! `GET /v1/meta/users`: the account's users (`list-users` in BambooHR's OpenAPI document).
//!
//! The simulated account gives every employee a user (its id is the employee's, enabled while
//! the employee is active) and has one administrator without an employee record (`employeeId`
//! 0 in JSON, no attribute in XML), the user the API key belongs to.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::render;
use super::{Admitted, Rejection, TOOL, authorize};
use crate::SimState;

/// The API key's own user, kept clear of employee ids.
const ADMIN_USER_ID: u64 = 2_000_000_000;

/// An object keyed by user id. `status=enabled,disabled` filters; unknown values are ignored,
/// and a filter with none known returns everyone, as documented.
pub(super) async fn users(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let known: Vec<&str> = query
        .get("status")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| matches!(*s, "enabled" | "disabled"))
                .collect()
        })
        .unwrap_or_default();
    let keep = |status: &str| known.is_empty() || known.contains(&status);
    let c = state.company(TOOL);
    let mut out = Map::new();
    if keep("enabled") {
        out.insert(
            ADMIN_USER_ID.to_string(),
            json!({"id": ADMIN_USER_ID, "employeeId": 0, "firstName": "API", "lastName": "Administrator",
                   "email": "api-admin@example.com", "status": "enabled"}),
        );
    }
    for e in c.hris.employees.values() {
        let status = if render::status(e) == "Active" {
            "enabled"
        } else {
            "disabled"
        };
        if !keep(status) {
            continue;
        }
        let email = Some(e.email.as_str())
            .filter(|m| !m.is_empty())
            .or(e.personal_email.as_deref())
            .unwrap_or("");
        out.insert(
            e.id.to_string(),
            json!({"id": e.id, "employeeId": e.id, "firstName": e.first_name, "lastName": e.last_name,
                   "email": email, "status": status}),
        );
    }
    Ok(Json(Value::Object(out)).into_response())
}
