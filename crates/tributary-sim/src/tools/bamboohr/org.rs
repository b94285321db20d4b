//! The organisation: list fields (departments, divisions, locations, employment statuses) and
//! the paginated job locations with their addresses.
//!
//! Shapes from BambooHR's OpenAPI document (`list-list-fields`, `GET /api/v1/hris/org/locations`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Admitted, Rejection, TOOL, authorize, error};
use crate::SimState;

/// The employment statuses of the simulated account, with stable option ids.
const EMPLOYMENT_STATUSES: &[(u64, &str)] = &[
    (1, "Full-Time"),
    (2, "Part-Time"),
    (3, "Contractor"),
    (4, "Intern"),
    (5, "Terminated"),
    (6, "Leave of Absence"),
];

fn option(id: u64, name: &str) -> Value {
    json!({"id": id, "name": name, "archived": "no", "createdDate": null, "archivedDate": null})
}

fn list_field(field_id: &str, alias: &str, name: &str, options: Vec<Value>) -> Value {
    json!({
        "fieldId": field_id,
        "alias": alias,
        "name": name,
        "manageable": "yes",
        "multiple": "no",
        "options": options,
    })
}

/// `GET /v1/meta/lists`: every list field with its options. Employees reference list values
/// by name, so these option ids are the only ids departments, divisions and locations have.
pub(super) async fn lists(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let c = state.company(TOOL);
    let body = vec![
        list_field(
            "4",
            "department",
            "Department",
            c.hris.departments.values().map(|d| option(d.id, &d.name)).collect(),
        ),
        list_field(
            "1355",
            "division",
            "Division",
            c.hris.legal_entities.values().map(|l| option(l.id, &l.name)).collect(),
        ),
        list_field(
            "18",
            "location",
            "Location",
            c.hris.offices.values().map(|o| option(o.id, &o.name)).collect(),
        ),
        list_field(
            "1360",
            "employmentHistoryStatus",
            "Employment Status",
            EMPLOYMENT_STATUSES.iter().map(|(id, name)| option(*id, name)).collect(),
        ),
    ];
    Ok(Json(body).into_response())
}

/// `pageSize` default (`get-locations`); the document names no maximum.
const DEFAULT_PAGE_SIZE: usize = 500;

/// `GET /v1/hris/org/locations?page=&pageSize=&expand=country`: job locations with addresses,
/// paginated. Pages count from 0, the documented default of `page`
/// (`PaginationMetaData.page` example 0; `_links` example: `prev` page=0, `next` page=2 around
/// page 1). The end signal is `meta.totalPages` and the absence of `_links.next`; a page past
/// the end is empty. A `page` or `pageSize` that is not a number, a negative page or a
/// `pageSize` below 1 is a 422 (`Invalid input.`).
pub(super) async fn locations(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let number = |name: &str, default: usize| -> Result<usize, Rejection> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Invalid {name}: {v}"))),
        }
    };
    let page = number("page", 0)?;
    let page_size = number("pageSize", DEFAULT_PAGE_SIZE)?;
    if page_size == 0 {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "pageSize must be at least 1"));
    }
    let expand_country = query
        .get("expand")
        .is_some_and(|e| e.split(',').any(|x| x.trim() == "country"));
    let c = state.company(TOOL);
    let total = c.hris.offices.len();
    let data: Vec<Value> = c
        .hris
        .offices
        .values()
        .skip(page.saturating_mul(page_size))
        .take(page_size)
        .map(|o| {
            let country_id = country_id(&o.country);
            let mut address = json!({
                "address1": null,
                "address2": null,
                "city": o.city,
                "stateId": null,
                "zipcode": null,
                "countryId": country_id,
                "timezone": null,
                "remoteLocation": false,
            });
            if expand_country {
                address["country"] = json!({"id": country_id, "name": o.country, "isoCode": o.country});
            }
            json!({
                "id": o.id.to_string(),
                "label": o.name,
                "archived": false,
                "manageable": true,
                "address": address,
                "createdAt": null,
                "archivedAt": null,
            })
        })
        .collect();
    let total_pages = total.div_ceil(page_size);
    let href = |p: usize| json!({"href": format!("/api/v1/hris/org/locations?page={p}&pageSize={page_size}")});
    let mut links = serde_json::Map::new();
    if page + 1 < total_pages {
        links.insert("next".into(), href(page + 1));
    }
    if page > 0 {
        links.insert("prev".into(), href((page - 1).min(total_pages.saturating_sub(1))));
    }
    Ok(Json(json!({
        "data": data,
        "meta": {
            "page": page,
            "pageSize": page_size,
            "totalPages": total_pages,
            "totalItems": total,
        },
        "_links": if links.is_empty() { Value::Null } else { Value::Object(links) },
    }))
    .into_response())
}

/// BambooHR identifies countries by internal numeric ids; the simulator derives a stable one
/// from the country code.
fn country_id(country: &str) -> String {
    country
        .bytes()
        .fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b)))
        .to_string()
}
