//! What can go wrong on a console page, shown as a page of its own with the operator API's
//! status (and its message), so a 404 is a 404 in the browser too.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tributary_operator::OpsError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsoleError {
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// An action posted without a (valid) session.
    #[error("you are signed out; sign in again")]
    SignedOut,
    /// A POST whose Origin is missing or another site's.
    #[error("this form was not sent from this console's pages")]
    CrossOrigin,
    /// An action's form lacked a field or had a wrong one.
    #[error("{0}")]
    Form(String),
    #[error("a page could not be rendered")]
    Render(#[from] askama::Error),
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Ops(e) => e.status(),
            ConsoleError::SignedOut => StatusCode::UNAUTHORIZED,
            ConsoleError::CrossOrigin => StatusCode::FORBIDDEN,
            ConsoleError::Form(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "console page failed");
        }
        let title = match &self {
            ConsoleError::Ops(e) => e.title().to_owned(),
            _ => status.canonical_reason().unwrap_or("Error").to_owned(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: self.to_string(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")));
        (status, Html(body)).into_response()
    }
}

/// A template as a 200 page, or the error page when it cannot be rendered.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => ConsoleError::Render(e).into_response(),
    }
}
