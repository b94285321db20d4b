//! `/ops/api-keys`: the read API's keys (never the keys themselves), a new one (shown once, on
//! the page that answers the form), and revocation.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::forms::with_cursor;
use crate::forms::{NewKeyForm, RevokeForm};
use crate::ops;
use crate::pages::Notice;
use crate::view::{at, at_opt};
use serde::Deserialize;

struct NewKey {
    id: String,
    environment: String,
    label: String,
    key: String,
}

struct KeyRow {
    id: String,
    environment: String,
    label: String,
    created_at: String,
    revoked_at: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct ApiKeysPage {
    notice: Option<&'static str>,
    created: Option<NewKey>,
    keys: Vec<KeyRow>,
    /// The next page's cursor, if there is one.
    next: Option<String>,
}

/// The keys page: `cursor` pages through the keys (the operator API's `GET /api-keys`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct KeysQuery {
    cursor: Option<String>,
    #[serde(flatten)]
    notice: Notice,
}

async fn page(
    state: &ConsoleState,
    cursor: Option<&str>,
    notice: Option<&'static str>,
    created: Option<NewKey>,
) -> Result<Response, ConsoleError> {
    let query = cursor.map_or_else(String::new, |c| with_cursor("", c));
    let found = ops::keys(&state.ops, query).await?;
    let keys = found
        .results
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            environment: k.environment,
            label: k.label,
            created_at: at(&k.created_at),
            revoked_at: at_opt(k.revoked_at.as_ref()),
            revoked: k.revoked,
        })
        .collect();
    Ok(render(&ApiKeysPage {
        notice,
        created,
        keys,
        next: found.next,
    }))
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    Query(query): Query<KeysQuery>,
) -> Result<Response, ConsoleError> {
    page(&state, query.cursor.as_deref(), query.notice.text(), None).await
}

/// Answers the page itself rather than redirecting: the key must not travel in a URL, and
/// it is never shown again.
pub(crate) async fn create(
    State(state): State<ConsoleState>,
    form: Result<Form<NewKeyForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|e| ConsoleError::Form(e.body_text()))?;
    let created = ops::create_key(&state.ops, form.environment.trim(), form.label.trim()).await?;
    let text = |field: &str| created[field].as_str().unwrap_or_default().to_owned();
    let created = NewKey {
        id: text("id"),
        environment: text("environment"),
        label: text("label"),
        key: text("key"),
    };
    let mut response = page(&state, None, None, Some(created)).await?;
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

pub(crate) async fn revoke(
    State(state): State<ConsoleState>,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|e| ConsoleError::Form(e.body_text()))?;
    ops::revoke_key(&state.ops, form.api_key_id.trim()).await?;
    Ok(Redirect::to("/ops/api-keys?done=revoked").into_response())
}
