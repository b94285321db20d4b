//! Serving the simulated tools over HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tributary_model::ToolKind;

use crate::company::Company;
use crate::gate::{self, ToolGate};
use crate::mutate::Category;
use crate::{SimCredentials, SimState, control, generate, tools};

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Employees of the generated company (10 to 1,000,000); the ATS scales with it.
    pub employees: usize,
    pub seed: u64,
    pub credentials: SimCredentials,
    /// The tools to serve (each gets its own copy of the company).
    pub tools: Vec<ToolKind>,
    /// Apply random mutations to every served tool this often (the demo uses it to show
    /// the mirror keeping up); None: the data only changes when told to.
    pub mutate_every: Option<Duration>,
    /// Mutations per tool per tick of the background mutator.
    pub mutations_per_tick: usize,
    /// Requests kept in the request log.
    pub log_capacity: usize,
    /// Each tool imposes its documented rate limit (`SimState::set_documented_limits`).
    pub documented_rate_limits: bool,
    /// Latency added to every request of every tool (`SimState::set_latency`), e.g. a real
    /// SaaS API's 300 ms.
    pub latency: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            employees: 50,
            seed: 42,
            credentials: SimCredentials::default(),
            tools: ToolKind::ALL.to_vec(),
            mutate_every: None,
            mutations_per_tick: 5,
            log_capacity: crate::log::DEFAULT_CAPACITY,
            documented_rate_limits: false,
            latency: Duration::ZERO,
        }
    }
}

/// The path prefix a tool is served under.
pub fn tool_prefix(tool: ToolKind) -> &'static str {
    match tool {
        ToolKind::Personio => "/personio",
        ToolKind::Greenhouse => "/greenhouse",
        ToolKind::Bamboohr => "/bamboohr",
    }
}

/// Wraps a tool's routes in the request log, latency and fault middleware. `app` does this
/// for the real tool routers; tests may use it to serve extra routes the same way.
pub fn gated(state: &SimState, tool: ToolKind, routes: Router<SimState>) -> Router<SimState> {
    routes.layer(from_fn_with_state(
        ToolGate {
            state: state.clone(),
            tool,
        },
        gate::middleware,
    ))
}

/// The whole HTTP app: every served tool nested under its own prefix, behind the fault
/// middleware, and the control API under `/_control`.
pub fn app(state: SimState) -> Router {
    let mut router = Router::new();
    for tool in state.tools() {
        let routes = match tool {
            ToolKind::Personio => tools::personio::router(),
            ToolKind::Greenhouse => tools::greenhouse::router(),
            ToolKind::Bamboohr => tools::bamboohr::router(),
        };
        router = router.nest(tool_prefix(tool), gated(&state, tool, routes));
    }
    router.nest("/_control", control::router()).with_state(state)
}

/// Generates each tool's company: the HRIS half for Personio and BambooHR, the ATS half
/// for Greenhouse. Each half is generated once (both in parallel) and cloned for a second
/// tool that needs it, which is cheaper than generating it again.
pub fn generate_companies(seed: u64, employees: usize, tools: &[ToolKind]) -> HashMap<ToolKind, Company> {
    let needs = |category| tools.iter().any(|t| Category::of(*t) == category);
    let (hris, ats) = std::thread::scope(|s| {
        let hris = needs(Category::Hris).then(|| s.spawn(|| generate::hris_company(seed, employees)));
        let ats = needs(Category::Ats).then(|| generate::ats_company(seed, employees));
        (
            hris.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            ats,
        )
    });
    let mut companies = HashMap::new();
    for (category, company) in [(Category::Hris, hris), (Category::Ats, ats)] {
        let Some(company) = company else { continue };
        let mut served = tools
            .iter()
            .copied()
            .filter(|t| Category::of(*t) == category)
            .collect::<Vec<_>>();
        served.dedup();
        // Clones for all but the last tool, which takes the original: a million-employee
        // HRIS half is gigabytes, so no copy more than needed.
        if let Some(last) = served.pop() {
            for tool in served {
                companies.insert(tool, company.clone());
            }
            companies.insert(last, company);
        }
    }
    companies
}

/// A running simulator.
pub struct Simulator {
    pub addr: SocketAddr,
    pub state: SimState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    mutator: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Generates the company and serves all tools on `listen` (port 0 picks a free port).
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<Simulator> {
        let (seed, employees, tools) = (config.seed, config.employees, config.tools.clone());
        // Generating a large company takes seconds of CPU: keep it off the async workers.
        let companies = tokio::task::spawn_blocking(move || generate_companies(seed, employees, &tools))
            .await
            .map_err(std::io::Error::other)?;
        let state = SimState::with_log_capacity(companies, config.credentials, config.log_capacity);
        state.set_documented_limits(config.documented_rate_limits);
        for tool in state.tools() {
            state.set_latency(tool, config.latency.as_millis() as u64);
        }
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let app = app(state.clone());
        // Without TCP_NODELAY the tail of every response larger than one segment (a page of
        // 100 employees is) waits for the client's delayed ACK, ~40 ms a page: the simulator
        // would measure the kernel's timers instead of the engine.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        let mutator = config
            .mutate_every
            .filter(|every| !every.is_zero())
            .map(|every| tokio::spawn(mutator(state.clone(), every, config.mutations_per_tick, config.seed)));
        tracing::info!(%addr, employees = config.employees, "simulator listening");
        Ok(Simulator {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
            mutator,
        })
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

    /// The base URL of the control API (`http://addr/_control`).
    pub fn control_url(&self) -> String {
        format!("http://{}/_control", self.addr)
    }

    /// The credentials JSON a tributary integration for `tool` needs to talk to this simulator.
    pub fn integration_credentials(&self, tool: ToolKind) -> serde_json::Value {
        let c = self.state.credentials();
        match tool {
            ToolKind::Personio => serde_json::json!({
                "client_id": c.personio_client_id, "client_secret": c.personio_client_secret
            }),
            // Greenhouse's token endpoint lives on its own host (auth.greenhouse.io); the
            // simulator serves it beside the API, so the integration is told where.
            ToolKind::Greenhouse => serde_json::json!({
                "client_id": c.greenhouse_client_id,
                "client_secret": c.greenhouse_client_secret,
                "token_url": format!("{}/token", self.base_url(ToolKind::Greenhouse)),
            }),
            ToolKind::Bamboohr => serde_json::json!({ "api_key": c.bamboohr_api_key }),
        }
    }

    /// Stops serving. Requests hanging in a `timeout` fault end at once, so this does not
    /// wait for them.
    pub async fn shutdown(mut self) {
        self.state.begin_shutdown();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mutator) = self.mutator.take() {
            let _ = mutator.await;
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    /// A simulator dropped without `shutdown` (a failing test) still stops its tasks.
    fn drop(&mut self) {
        self.state.begin_shutdown();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Applies `per_tick` random mutations to every served tool every `every`.
async fn mutator(state: SimState, every: Duration, per_tick: usize, seed: u64) {
    let mut tick: u64 = 0;
    while state.pause(every).await {
        tick += 1;
        for tool in state.tools() {
            let state = state.clone();
            let tick_seed = seed ^ tick.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let applied = tokio::task::spawn_blocking(move || state.mutate_random(tool, per_tick, tick_seed)).await;
            match applied {
                Ok(Ok(done)) => tracing::debug!(%tool, mutations = done.len(), "background mutations applied"),
                Ok(Err(e)) => tracing::warn!(%tool, error = %e, "background mutation failed"),
                Err(e) => tracing::warn!(%tool, error = %e, "background mutation task failed"),
            }
        }
    }
}
