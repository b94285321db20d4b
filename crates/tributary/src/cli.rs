use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// tributary: mirrors HRIS and ATS tools into your database and serves them through a fast,
/// Kombo-compatible API.
///
/// With no DATABASE_URL every role runs on an embedded SQLite database under --data-dir.
#[derive(Debug, Parser)]
#[command(name = "tributary", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Bearer token of the operator API (`/ops/v1`); unset, that API refuses every request.
    #[arg(long, env = "TRIBUTARY_ADMIN_TOKEN", global = true, hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Postgres URL of the mirror (e.g. postgres://user@host/db). Unset: embedded SQLite.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded mode keeps its SQLite database and credential key.
    #[arg(long, env = "TRIBUTARY_DATA_DIR", default_value = ".tributary", global = true)]
    pub data_dir: PathBuf,
    /// Base64 of the 32-byte key that encrypts source credentials at rest. Required with
    /// DATABASE_URL; the embedded mode keeps one in --data-dir.
    #[arg(long, env = "TRIBUTARY_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Redis URL of the fleet's queues and leases (e.g. redis://host:6379). Unset: `serve`
    /// runs everything in one process with in-memory queues; `worker` and `scheduler` need it.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key of this deployment (two deployments may share a Redis).
    #[arg(long, env = "TRIBUTARY_REDIS_PREFIX", default_value = "tributary", global = true)]
    pub redis_prefix: String,
    /// Log filter, e.g. `info` or `tributary_engine=debug` (default: `info`; `warn` for the
    /// demo, whose progress lines say what happens).
    #[arg(long, env = "TRIBUTARY_LOG", global = true)]
    pub log: Option<String>,
    /// Log line format: `text`, or `json` (one object per line with the event, its span's
    /// fields, the span list, and trace and span ids when traces are on).
    #[arg(long, env = "TRIBUTARY_LOG_FORMAT", global = true, default_value = "text")]
    pub log_format: String,
    /// Do not migrate the database at start; check instead that it has exactly this release's
    /// migrations, and refuse to start otherwise (run `tributary migrate` once per release first,
    /// in an init container or a Job). `tributary migrate` migrates whatever this says.
    #[arg(long, env = "TRIBUTARY_SKIP_MIGRATIONS", global = true, value_parser = BoolishValueParser::new())]
    pub skip_migrations: bool,
    /// Seconds to wait for the first answer of Postgres and of Redis at start before giving up
    /// with an error.
    #[arg(long, env = "TRIBUTARY_CONNECT_TIMEOUT_SECS", global = true, default_value_t = 10.0, value_parser = positive_secs)]
    pub connect_timeout_secs: f64,
    /// Read --admin-token from this file (e.g. a mounted Kubernetes Secret).
    #[arg(
        long,
        env = "TRIBUTARY_ADMIN_TOKEN_FILE",
        global = true,
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<PathBuf>,
    /// Read --database-url from this file.
    #[arg(long, env = "DATABASE_URL_FILE", global = true, conflicts_with = "database_url")]
    pub database_url_file: Option<PathBuf>,
    /// Read --secret-key from this file.
    #[arg(
        long,
        env = "TRIBUTARY_SECRET_KEY_FILE",
        global = true,
        conflicts_with = "secret_key"
    )]
    pub secret_key_file: Option<PathBuf>,
    /// Read --redis-url from this file.
    #[arg(long, env = "REDIS_URL_FILE", global = true, conflicts_with = "redis_url")]
    pub redis_url_file: Option<PathBuf>,
}

impl Global {
    /// Fills the secret settings given as files (`--secret-key-file`, `TRIBUTARY_SECRET_KEY_FILE`,
    /// ...): a secret mounted as a file stays out of the process environment, which child
    /// processes inherit and `/proc/<pid>/environ` shows. One trailing line break is dropped (an
    /// editor's or `echo`'s); anything else in the file is the value.
    pub fn read_secret_files(&mut self) -> anyhow::Result<()> {
        let read = |path: &std::path::Path, flag: &str| -> anyhow::Result<String> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --{flag} {}: {e}", path.display()))?;
            let value = text
                .strip_suffix('\n')
                .map(|v| v.strip_suffix('\r').unwrap_or(v))
                .unwrap_or(&text);
            if value.is_empty() {
                anyhow::bail!("--{flag} {} is empty", path.display());
            }
            Ok(value.to_owned())
        };
        for (file, value, flag) in [
            (&self.admin_token_file, &mut self.admin_token, "admin-token-file"),
            (&self.database_url_file, &mut self.database_url, "database-url-file"),
            (&self.secret_key_file, &mut self.secret_key, "secret-key-file"),
            (&self.redis_url_file, &mut self.redis_url, "redis-url-file"),
        ] {
            if let Some(path) = file {
                *value = Some(read(path, flag)?);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Try tributary on this machine: simulated Personio, Greenhouse and BambooHR, synced into
    /// an embedded mirror and served on --listen, syncing on as the simulated data changes.
    Demo(DemoArgs),
    /// Serve the simulated tools (Personio, Greenhouse, BambooHR) and their control API.
    Sim(SimArgs),
    /// Apply the mirror's database migrations.
    Migrate,
    /// Run one sync of an integration now and print its outcome.
    Sync(SyncArgs),
    /// Show an integration's recent sync runs.
    Runs(RunsArgs),
    /// Manage integrations (connected tools).
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Manage API keys of the read API.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Serve the Kombo-compatible read API from the mirror (and the operator API when
    /// REDIS_URL and TRIBUTARY_ADMIN_TOKEN are set).
    Gateway(GatewayArgs),
    /// Claim due syncs from the schedules and enqueue them into Redis; re-enqueue runs nobody
    /// works on. Any number of replicas.
    Scheduler(SchedulerCommand),
    /// Take sync jobs from Redis and run them. Stateless; any number of replicas.
    Worker(WorkerCommand),
    /// Every role in one process: gateway, operator API, scheduler and worker (Redis when
    /// REDIS_URL is set, in-memory queues otherwise).
    Serve(ServeArgs),
    /// Print a completion script for a shell, e.g. `tributary completions bash >
    /// /etc/bash_completion.d/tributary`.
    Completions { shell: clap_complete::Shell },
    /// GET a URL and exit 0 on a 2xx answer, 1 otherwise: for container health checks in an
    /// image without a shell or curl, e.g. `tributary probe http://127.0.0.1:8080/ready`.
    Probe(ProbeCommand),
}

#[derive(Debug, Args)]
pub struct ProbeCommand {
    /// The URL to GET, e.g. http://127.0.0.1:9090/ready.
    pub url: String,
    /// Seconds the whole request may take.
    #[arg(long, default_value_t = 3.0, value_parser = positive_secs)]
    pub timeout_secs: f64,
}

/// How a listing command prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for reading.
    #[default]
    Text,
    /// One JSON document (an array), for `jq` and scripts.
    Json,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArgs {
    /// `text` (columns) or `json` (one document, for jq).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Scheduler")]
pub struct SchedulerArgs {
    /// Seconds between claims of due schedules.
    #[arg(long, env = "TRIBUTARY_TICK_SECS", default_value_t = 1.0, value_parser = positive_secs)]
    pub tick_secs: f64,
    /// Seconds between searches for runs with no queued job and no worker.
    #[arg(long, env = "TRIBUTARY_RECONCILE_SECS", default_value_t = 10.0, value_parser = positive_secs)]
    pub reconcile_secs: f64,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Worker")]
pub struct WorkerArgs {
    /// FULL and DEFAULT syncs run at once (each).
    #[arg(long, env = "TRIBUTARY_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// DELTA syncs run at once.
    #[arg(long, env = "TRIBUTARY_DELTA_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub delta_concurrency: u16,
    /// Seconds an integration lease lasts unless renewed; a killed worker's syncs resume
    /// elsewhere after about this long.
    #[arg(long, env = "TRIBUTARY_LEASE_TTL_SECS", default_value_t = 30.0, value_parser = positive_secs)]
    pub lease_ttl_secs: f64,
    /// Executions of a sync that may end with the source unavailable before it is FAILED.
    #[arg(long, env = "TRIBUTARY_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub max_attempts: i32,
    /// Seconds before the first retry of such a sync; each further retry doubles it.
    #[arg(long, env = "TRIBUTARY_RETRY_BASE_SECS", default_value_t = 30.0, value_parser = positive_secs)]
    pub retry_base_secs: f64,
    /// Attempts per source request (the first included) before a page counts as failed.
    #[arg(long, env = "TRIBUTARY_SOURCE_ATTEMPTS", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub source_attempts: u32,
    /// Source requests per second per integration.
    #[arg(long, env = "TRIBUTARY_SOURCE_RPS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub source_rps: u32,
    /// Ignore the tools' documented rate limits (still keeping to --source-rps and to the
    /// tool's refusals). For benchmarks against the simulator only: a real tool refuses the
    /// excess, and its refusals then set the pace.
    #[arg(long, env = "TRIBUTARY_IGNORE_DOCUMENTED_LIMITS", value_parser = BoolishValueParser::new())]
    pub ignore_documented_limits: bool,
    /// Streams of one sync fetched at once (they share the integration's request budget).
    #[arg(long, env = "TRIBUTARY_STREAM_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub stream_concurrency: u32,
    /// Outbound webhook attempts in flight at once in this process (0: this process delivers
    /// no webhooks).
    #[arg(long, env = "TRIBUTARY_WEBHOOK_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub webhook_concurrency: u16,
    /// Seconds one webhook attempt may take (connect, response, first KiB of its body).
    #[arg(long, env = "TRIBUTARY_WEBHOOK_TIMEOUT_SECS", default_value_t = 10.0, value_parser = positive_secs)]
    pub webhook_timeout_secs: f64,
    /// Seconds a claimed webhook delivery stays this process's: the deliveries a killed
    /// process was sending are sent again after this long. At least a second more than
    /// --webhook-timeout-secs (default: twice that timeout plus 40 s).
    #[arg(long, env = "TRIBUTARY_WEBHOOK_LEASE_SECS", value_parser = positive_secs)]
    pub webhook_lease_secs: Option<f64>,
    /// Milliseconds between polls of the webhook outbox while it has nothing due.
    #[arg(long, env = "TRIBUTARY_WEBHOOK_POLL_MS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub webhook_poll_ms: u64,
    /// Deliver webhooks to link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
    /// 169.254.169.254, ...), which are refused by default.
    #[arg(long, env = "TRIBUTARY_WEBHOOK_ALLOW_LINK_LOCAL", value_parser = BoolishValueParser::new())]
    pub webhook_allow_link_local: bool,
    /// Refuse webhook targets on loopback and private networks (RFC 1918, fc00::/7, 100.64/10).
    /// They are allowed by default, for self-hosted deployments with internal receivers.
    #[arg(long, env = "TRIBUTARY_WEBHOOK_DENY_PRIVATE_TARGETS", value_parser = BoolishValueParser::new())]
    pub webhook_deny_private_targets: bool,
    /// On SIGTERM, running syncs pause at their next page boundary (checkpointed, lease
    /// released, job re-enqueued) and the worker waits at most this many seconds for them
    /// before exiting anyway; a sync still on a page then resumes elsewhere once its lease
    /// expires. A pod's terminationGracePeriodSeconds must exceed it (the manifests give it
    /// this plus 15 s). In `serve`, also the bound on the listeners' shutdown.
    #[arg(long, env = "TRIBUTARY_SHUTDOWN_TIMEOUT_SECS", default_value_t = 60.0, value_parser = positive_secs)]
    pub shutdown_timeout_secs: f64,
}

#[derive(Debug, Args)]
pub struct SchedulerCommand {
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
    #[command(flatten)]
    pub probes: ProbeArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Args)]
pub struct WorkerCommand {
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub probes: ProbeArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// The small HTTP listener of the roles without a gateway, for Kubernetes probes and scrapes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Probes")]
pub struct ProbeArgs {
    /// Serve `/metrics`, `/health` and `/ready` on this address (e.g. 0.0.0.0:9090); off when
    /// unset. `/ready` answers 503 while the mirror or Redis does not answer.
    #[arg(long, env = "TRIBUTARY_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
}

/// What `/metrics` computes at each scrape.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsArgs {
    /// Integrations given staleness series of their own in `/metrics`, stalest first (every
    /// integration is counted in `tributary_integrations{tool,staleness}` whatever this is).
    #[arg(long, env = "TRIBUTARY_METRICS_STALEST", default_value_t = 20, value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub metrics_stalest: u16,
    /// Milliseconds the fleet gauges (queues, open runs, staleness) may take at a scrape; past
    /// it the scrape answers without them and `tributary_collector_up{collector="fleet"}` is 0.
    #[arg(long, env = "TRIBUTARY_METRICS_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub metrics_timeout_ms: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the read API (and of the operator API unless --ops-listen).
    #[arg(long, env = "TRIBUTARY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the operator API (`/ops/*`) only on this address, and not on --listen, so it can
    /// stay off the public Service.
    #[arg(long, env = "TRIBUTARY_OPS_LISTEN")]
    pub ops_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub limits: ApiLimitArgs,
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 86400")),
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the read API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// API key to accept (default: a random one, printed at start).
    #[arg(long, env = "TRIBUTARY_DEMO_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Employees of the simulated company (10 to 1,000,000).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    pub employees: u32,
    /// Seconds between sync rounds after the first.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_every: u64,
    /// Seconds between the simulator's batches of random changes (0: never).
    #[arg(long, default_value_t = 10)]
    pub mutate_every: u64,
    /// Stop after this many sync rounds (0: run until Ctrl-C).
    #[arg(long, default_value_t = 0)]
    pub rounds: u64,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Employees of the generated company (10 to 1,000,000); the ATS scales with it.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    pub employees: u32,
    /// Seed of the generated company: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Seconds between batches of random changes (0: never).
    #[arg(long, default_value_t = 0)]
    pub mutate_every: u64,
    /// Each tool throttles at its documented rate limit, answering as the real tool does
    /// (see docs/sources/).
    #[arg(long)]
    pub documented_rate_limits: bool,
    /// Milliseconds added to every request, like a real SaaS API's latency.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum SyncTypeArg {
    Full,
    Delta,
    Default,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Integration id, e.g. personio:acme.
    pub integration: String,
    /// Sync type; by default the engine picks it from the schedule and the tool.
    #[arg(long = "type", value_enum)]
    pub sync_type: Option<SyncTypeArg>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    pub integration: String,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub limit: i64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Connect a tool.
    Create(CreateIntegrationArgs),
    /// List integrations (credentials are never shown).
    List(OutputArgs),
    /// Replace an integration's scope config with a JSON file in Kombo's `read_models` shape
    /// (checked against the tool's models and fields), and make a complete sync due.
    Scope {
        integration: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete an integration and its mirrored data.
    Delete { integration: String },
}

#[derive(Debug, Args)]
pub struct CreateIntegrationArgs {
    /// `<tool>:<name>`, tool one of personio, greenhouse, bamboohr.
    pub id: String,
    /// The tool's API root, e.g. https://api.personio.de.
    #[arg(long)]
    pub base_url: String,
    /// The tool's credentials as JSON, e.g. '{"client_id": "...", "client_secret": "..."}'. Prefer --credentials-file
    /// or the TRIBUTARY_CREDENTIALS variable to keep them out of shell history.
    #[arg(
        long,
        env = "TRIBUTARY_CREDENTIALS",
        hide_env_values = true,
        conflicts_with = "credentials_file"
    )]
    pub credentials: Option<String>,
    #[arg(long)]
    pub credentials_file: Option<PathBuf>,
    /// The environment whose API keys may read it.
    #[arg(long, default_value = "default")]
    pub environment: String,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; it is printed once and only its hash is stored.
    Create {
        #[arg(long, default_value = "default")]
        environment: String,
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// Revoke a key by its id.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Address of the read API (and of the operator API unless --ops-listen).
    #[arg(long, env = "TRIBUTARY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the operator API (`/ops/*`) only on this address, and not on --listen, so it can
    /// stay off the public Service.
    #[arg(long, env = "TRIBUTARY_OPS_LISTEN")]
    pub ops_listen: Option<SocketAddr>,
    /// On SIGTERM, seconds the listeners wait for requests in flight before the process exits
    /// anyway (new connections are refused at once, idle kept-alive ones closed). A pod's
    /// terminationGracePeriodSeconds must exceed it.
    #[arg(long, env = "TRIBUTARY_SHUTDOWN_TIMEOUT_SECS", default_value_t = 25.0, value_parser = positive_secs)]
    pub shutdown_timeout_secs: f64,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub limits: ApiLimitArgs,
}

/// Limits of the read API, per gateway process.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Read API limits")]
pub struct ApiLimitArgs {
    /// Requests per second each API key may make (sustained; 0 = unlimited). Counted per
    /// gateway replica.
    #[arg(long, env = "TRIBUTARY_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,
    /// Requests a key may make at once after a quiet spell.
    #[arg(long, env = "TRIBUTARY_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,
    /// Seconds a read API request may take before it answers PLATFORM.TASK_TIMED_OUT.
    #[arg(long, env = "TRIBUTARY_REQUEST_TIMEOUT_SECS", default_value_t = 30.0, value_parser = positive_secs)]
    pub request_timeout_secs: f64,
    /// Seconds Postgres may work on one list page before it cancels the read (504
    /// PLATFORM.TASK_TIMED_OUT); 0 leaves the database's own `statement_timeout`. No effect on
    /// SQLite.
    #[arg(long, env = "TRIBUTARY_READ_STATEMENT_TIMEOUT", default_value_t = 10.0, value_parser = secs_or_zero)]
    pub read_statement_timeout_secs: f64,
    /// Seconds an API request waits for a Postgres connection (to come free, or to be made)
    /// before it answers 503 PLATFORM.UNKNOWN_ERROR: how fast reads fail while the database is
    /// unreachable.
    #[arg(long, env = "TRIBUTARY_DB_ACQUIRE_TIMEOUT", default_value_t = 2.0, value_parser = positive_secs)]
    pub db_acquire_timeout_secs: f64,
    /// Seconds `GET /ready` waits for the mirror to answer before it says 503.
    #[arg(long, env = "TRIBUTARY_READY_TIMEOUT", default_value_t = 1.0, value_parser = positive_secs)]
    pub ready_timeout_secs: f64,
    /// Seconds a client has to send a complete request head, counted from when the server
    /// waits for one (so also the longest a kept-alive connection may idle between requests).
    #[arg(long, env = "TRIBUTARY_HEADER_READ_TIMEOUT", default_value_t = 10.0, value_parser = positive_secs)]
    pub header_read_timeout_secs: f64,
    /// Seconds without a byte moving either way after which a connection is closed.
    #[arg(long, env = "TRIBUTARY_IDLE_TIMEOUT", default_value_t = 60.0, value_parser = positive_secs)]
    pub idle_timeout_secs: f64,
    /// Render every list item from its records on each request instead of serving the
    /// renderings the mirror's writes stored: the same answers, several times the work. For
    /// comparing the two (the SDK suite does) or ruling stored renderings out.
    #[arg(long, env = "TRIBUTARY_RENDER_LIVE")]
    pub render_live: bool,
}

impl ApiLimitArgs {
    pub fn options(&self) -> tributary_gateway::GatewayOptions {
        use std::time::Duration;
        tributary_gateway::GatewayOptions {
            rate_limit_per_second: (self.rate_limit > 0).then_some(self.rate_limit),
            rate_limit_burst: self.rate_limit_burst,
            request_timeout: Duration::from_secs_f64(self.request_timeout_secs),
            read_statement_timeout: (self.read_statement_timeout_secs > 0.0)
                .then(|| Duration::from_secs_f64(self.read_statement_timeout_secs)),
            ready_timeout: Duration::from_secs_f64(self.ready_timeout_secs),
            stored_pages: !self.render_live,
            ..tributary_gateway::GatewayOptions::default()
        }
    }

    pub fn serve_options(&self) -> tributary_gateway::ServeOptions {
        tributary_gateway::ServeOptions {
            header_read_timeout: std::time::Duration::from_secs_f64(self.header_read_timeout_secs),
            idle_timeout: std::time::Duration::from_secs_f64(self.idle_timeout_secs),
        }
    }

    /// The API's own Postgres pool: it fails fast rather than wait out an outage.
    pub fn pool_settings(&self) -> tributary_store::PgPoolSettings {
        tributary_store::PgPoolSettings {
            acquire_timeout: std::time::Duration::from_secs_f64(self.db_acquire_timeout_secs),
            ..tributary_store::PgPoolSettings::default()
        }
    }
}

fn secs_or_zero(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v == 0.0 => Ok(v),
        _ => positive_secs(s),
    }
}
