//! `GET /health` and `GET /ready` of the roles that have no gateway, and the small listener
//! (`--http-listen`) that serves them with `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::MetricsError;

/// A dependency `/ready` asks (the store, Redis).
#[async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// Names the dependency in a 503's message.
    fn name(&self) -> &'static str;
    async fn check(&self) -> Result<(), String>;
}

#[derive(Clone)]
struct Checks {
    checks: Vec<Arc<dyn Readiness>>,
    timeout: Duration,
}

/// `/health` (the process answers) and `/ready` (every check answers within `timeout`, 503
/// in Kombo's error envelope otherwise).
pub fn probes(checks: Vec<Arc<dyn Readiness>>, timeout: Duration) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(Checks { checks, timeout })
}

/// Says nothing about dependencies, so Kubernetes does not restart a process because the
/// database blipped.
async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(checks): State<Checks>) -> Response {
    let runs = checks.checks.iter().map(|c| async {
        // Bounded here: during an outage a ping waits for a pool connection until the
        // pool's own acquire timeout, far longer than a probe's.
        match tokio::time::timeout(checks.timeout, c.check()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{}: {e}", c.name())),
            Err(_) => Some(format!("{}: no answer within {:?}", c.name(), checks.timeout)),
        }
    });
    let failures: Vec<String> = futures::future::join_all(runs).await.into_iter().flatten().collect();
    if failures.is_empty() {
        return Json(json!({"status": "ok"})).into_response();
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "error",
            "error": {
                "code": "PLATFORM.UNKNOWN_ERROR",
                "title": "The service is temporarily unavailable.",
                "message": failures.join("; "),
                "log_url": null,
            }
        })),
    )
        .into_response()
}

/// Serves `app` on `addr` until `shutdown` resolves. Binds before returning, so a bad address
/// fails the process at start; logs the bound address (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<Result<(), MetricsError>>, MetricsError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Listen { addr, source })?;
    let bound = listener.local_addr().map_err(MetricsError::Serve)?;
    tracing::info!(%bound, "serving /metrics, /health and /ready");
    Ok(tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(MetricsError::Serve)
    }))
}
