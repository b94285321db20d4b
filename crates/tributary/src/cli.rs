use std::net::SocketAddr;
use std::path::PathBuf;

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
pub struct Global {
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
    /// Log filter, e.g. `info` or `tributary_engine=debug` (default: `info`; `warn` for the
    /// demo, whose progress lines say what happens).
    #[arg(long, env = "TRIBUTARY_LOG", global = true)]
    pub log: Option<String>,
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
    /// Serve the Kombo-compatible read API from the mirror.
    Gateway(GatewayArgs),
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
    #[arg(long, default_value_t = 10)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Connect a tool.
    Create(CreateIntegrationArgs),
    /// List integrations (credentials are never shown).
    List,
    /// Replace an integration's scope config with a JSON file in Kombo's `read_models` shape.
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
    /// The tool's credentials as JSON, e.g. '{"api_key": "..."}'. Prefer --credentials-file
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
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}
