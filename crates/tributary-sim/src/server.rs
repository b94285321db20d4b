//! Serving the simulated tools over HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tributary_model::ToolKind;

use crate::{SimCredentials, SimState, generate, tools};

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Employees of the generated company (10 to 1,000,000); the ATS scales with it.
    pub employees: usize,
    pub seed: u64,
    pub credentials: SimCredentials,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self { employees: 50, seed: 42, credentials: SimCredentials::default() }
    }
}

/// The whole HTTP app: every tool nested under its own prefix.
pub fn app(state: SimState) -> Router {
    Router::new()
        .nest("/personio", tools::personio::router())
        .nest("/greenhouse", tools::greenhouse::router())
        .nest("/bamboohr", tools::bamboohr::router())
        .with_state(state)
}

/// A running simulator.
pub struct Simulator {
    pub addr: SocketAddr,
    pub state: SimState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Generates the company and serves all tools on `listen` (port 0 picks a free port).
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<Simulator> {
        let mut companies = HashMap::new();
        for tool in ToolKind::ALL {
            companies.insert(*tool, generate::company(config.seed, config.employees));
        }
        let state = SimState::new(companies, config.credentials);
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let app = app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Simulator { addr, state, shutdown: Some(tx), task: Some(task) })
    }

    /// The base URL a connector for `tool` is configured with.
    pub fn base_url(&self, tool: ToolKind) -> String {
        match tool {
            ToolKind::Personio => format!("http://{}/personio", self.addr),
            ToolKind::Greenhouse => format!("http://{}/greenhouse", self.addr),
            ToolKind::Bamboohr => format!(
                "http://{}/bamboohr/api/gateway.php/{}",
                self.addr,
                self.state.credentials().bamboohr_company_domain
            ),
        }
    }

    /// The credentials JSON a tributary integration for `tool` needs to talk to this simulator.
    pub fn integration_credentials(&self, tool: ToolKind) -> serde_json::Value {
        let c = self.state.credentials();
        match tool {
            ToolKind::Personio => serde_json::json!({
                "client_id": c.personio_client_id, "client_secret": c.personio_client_secret
            }),
            ToolKind::Greenhouse => serde_json::json!({ "api_key": c.greenhouse_api_key }),
            ToolKind::Bamboohr => serde_json::json!({ "api_key": c.bamboohr_api_key }),
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
