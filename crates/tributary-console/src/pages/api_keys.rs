//! `/ops/api-keys`: create a read API key (shown once, on the page that answers the form) and
//! revoke one.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::forms::{NewKeyForm, RevokeForm};
use crate::ops;
use crate::pages::Notice;

struct NewKey {
    id: String,
    environment: String,
    label: String,
    key: String,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct ApiKeysPage {
    notice: Option<&'static str>,
    created: Option<NewKey>,
}

pub(crate) async fn show(Query(notice): Query<Notice>) -> Response {
    render(&ApiKeysPage {
        notice: notice.text(),
        created: None,
    })
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
    let mut response = render(&ApiKeysPage {
        notice: None,
        created: Some(NewKey {
            id: text("id"),
            environment: text("environment"),
            label: text("label"),
            key: text("key"),
        }),
    });
    response
        .headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
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
