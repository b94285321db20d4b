//! Start-up shared by every role: logging, opening the mirror named by the configuration and
//! the fleet's queues, the cursor-signing key and the shutdown signal.

use std::sync::Arc;

use anyhow::{Context, bail};
use tributary_budget::RedisBudget;
use tributary_queue::{Coordinator, EmbeddedCoordinator, JobQueue, MemoryQueue, RedisCoordinator, RedisQueue};
use tributary_source::SharedBudget;
use tributary_store::{CredentialKey, MirrorStore, PgPoolSettings, PgStore, SchemaStatus, SqliteStore};
use tributary_worker::Queues;

use crate::cli::{ApiLimitArgs, Global};

/// Logs and traces as `--log`, `--log-format` and the `OTEL_*` environment ask
/// (`tributary-telemetry`).
pub fn init_telemetry(
    global: &Global,
    default_log: &str,
) -> Result<tributary_telemetry::Telemetry, tributary_telemetry::TelemetryError> {
    let format: tributary_telemetry::LogFormat = global.log_format.parse()?;
    tributary_telemetry::init(global.log.as_deref().unwrap_or(default_log), format)
}

/// A long-running role's "listening on" line: printed as it always was, or, with JSON logs, a
/// log event like every other line on stdout (a log shipper parses each line as JSON).
pub fn banner(global: &Global, line: &str) {
    if global.log_format == "json" {
        tracing::info!("{line}");
    } else {
        println!("{line}");
    }
}

/// Opens the mirror, migrating it unless `--skip-migrations` says a migrate step did (an init
/// container, a Job; then it checks the database is exactly this release's): Postgres when a database URL is
/// configured, otherwise the embedded SQLite database under the data directory.
pub async fn open_store(global: &Global) -> anyhow::Result<Arc<dyn MirrorStore>> {
    open_store_with(global, !global.skip_migrations).await
}

/// [`open_store`], migrating when `migrate` is set (`tributary migrate` always does).
pub async fn open_store_with(global: &Global, migrate: bool) -> anyhow::Result<Arc<dyn MirrorStore>> {
    let store: Arc<dyn MirrorStore> = match &global.database_url {
        Some(url) => {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                bail!("DATABASE_URL must be a postgres:// URL (leave it unset for the embedded mode)");
            }
            Arc::new(connect_pg(global, url, PgPoolSettings::default()).await?)
        }
        None => {
            create_data_dir(&global.data_dir)?;
            let key = match &global.secret_key {
                Some(k) => parse_secret_key(k)?,
                None => CredentialKey::load_or_create(&global.data_dir.join("secret.key"))
                    .with_context(|| format!("cannot read or create the key in {}", global.data_dir.display()))?,
            };
            let path = global.data_dir.join("tributary.db");
            let store = SqliteStore::open(&path, key)
                .await
                .with_context(|| format!("cannot open the embedded database {}", path.display()))?;
            Arc::new(store)
        }
    };
    if migrate {
        // Replicas starting together against a fresh database are safe: sqlx holds an advisory
        // lock on Postgres (and SQLite's writer lock) for the whole run.
        store.migrate().await.context("cannot apply database migrations")?;
    } else {
        match store
            .schema_status()
            .await
            .context("cannot read the database's applied migrations")?
        {
            SchemaStatus::Current => {}
            status @ SchemaStatus::Newer { .. } => {
                bail!("the database schema is newer than this release ({status}): run a release that knows it")
            }
            status => bail!("the database schema is not this release's ({status}): run `tributary migrate` first"),
        }
    }
    Ok(store)
}

/// An operator listener without an admin token would refuse every request: a
/// misconfiguration that should stop the start, not pass the probes.
pub fn check_ops_listen(global: &Global, ops_listen: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    if ops_listen.is_some() && global.admin_token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        bail!("--ops-listen needs TRIBUTARY_ADMIN_TOKEN (the operator API refuses every request without one)");
    }
    Ok(())
}

/// The store the HTTP API (read and operator API) uses. On Postgres a pool of its own, with
/// the API's short acquire timeout: while the database is unreachable requests fail fast with
/// 503 instead of waiting out the outage, and a busy API cannot starve the sync workers of
/// connections (nor they it). The embedded mode shares `store`: there is no server to lose.
pub async fn open_api_store(
    global: &Global,
    store: &Arc<dyn MirrorStore>,
    limits: &ApiLimitArgs,
) -> anyhow::Result<Arc<dyn MirrorStore>> {
    match &global.database_url {
        Some(url) => Ok(Arc::new(connect_pg(global, url, limits.pool_settings()).await?)),
        None => Ok(store.clone()),
    }
}

async fn connect_pg(global: &Global, url: &str, settings: PgPoolSettings) -> anyhow::Result<PgStore> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        bail!("DATABASE_URL must be a postgres:// URL (leave it unset for the embedded mode)");
    }
    let key = match &global.secret_key {
        Some(k) => parse_secret_key(k)?,
        None => bail!(
            "TRIBUTARY_SECRET_KEY is required with DATABASE_URL (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
        ),
    };
    let settings = PgPoolSettings {
        connect_timeout: connect_timeout(global),
        ..settings
    };
    PgStore::connect_with(url, key, settings)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redact_url(url)))
}

/// The embedded mode's data directory, created readable by its owner only whatever the umask:
/// it holds the credential key and the mirror. An existing directory is left as it is: it may
/// be shared on purpose, and the files in it are 0600 either way (a warning would go to the
/// stdout that `tributary runs` prints JSON lines on).
fn create_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder
            .create(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        // `mode` is filtered by the umask; the directory must be 0700 regardless.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict data directory {}", dir.display()))?;
        Ok(())
    }
    #[cfg(not(unix))]
    builder
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// The key's error says what is wrong in its own words (`{e}`, not the chain: base64's error
/// is both its message and its source).
fn parse_secret_key(text: &str) -> anyhow::Result<CredentialKey> {
    CredentialKey::from_base64(text)
        .map_err(|e| anyhow::anyhow!("TRIBUTARY_SECRET_KEY must be base64 of 32 bytes: {e}"))
}

/// REDIS_URL, checked before anything connects: a typo is a configuration error, not an
/// outage to wait out.
pub fn check_redis_url(global: &Global) -> anyhow::Result<()> {
    let Some(url) = &global.redis_url else {
        return Ok(());
    };
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        bail!("REDIS_URL must be a redis:// or rediss:// URL");
    }
    if let Err(e) = url::Url::parse(url) {
        bail!("REDIS_URL is not a valid URL: {e}");
    }
    Ok(())
}

fn connect_timeout(global: &Global) -> std::time::Duration {
    std::time::Duration::from_secs_f64(global.connect_timeout_secs)
}

/// A URL with its password replaced, fit for an error message.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// The queues and coordination of a deployment: Redis when configured, in-process otherwise.
pub struct Fleet {
    pub queue: Arc<dyn JobQueue>,
    pub coordinator: Arc<dyn Coordinator>,
    /// Every integration's source rate budget, shared by the processes of the fleet (`None`
    /// in one process: its clients' own budgets are the whole of it).
    pub budget: Option<Arc<dyn SharedBudget>>,
    queues: Option<Queues>,
}

impl Fleet {
    pub async fn open(global: &Global, store: &Arc<dyn MirrorStore>) -> anyhow::Result<Self> {
        match &global.redis_url {
            Some(url) => {
                check_redis_url(global)?;
                // The connection retries a refused connect with backoff: bounded here so a role
                // with an unreachable Redis exits with its error rather than hang at start.
                let timeout = connect_timeout(global);
                let conn = match tokio::time::timeout(timeout, tributary_queue::connect(url)).await {
                    Ok(conn) => conn.with_context(|| format!("cannot connect to Redis at {}", redact_url(url)))?,
                    Err(_) => bail!(
                        "cannot connect to Redis at {}: no answer within {} s",
                        redact_url(url),
                        timeout.as_secs_f64()
                    ),
                };
                let queue = RedisQueue::new(conn.clone(), &global.redis_prefix);
                Ok(Self {
                    budget: Some(Arc::new(RedisBudget::new(conn.clone(), global.redis_prefix.clone()))),
                    queue: Arc::new(queue.clone()),
                    coordinator: Arc::new(RedisCoordinator::new(conn, global.redis_prefix.clone(), store.clone())),
                    queues: Some(Queues::Redis(queue)),
                })
            }
            None => {
                let queue = MemoryQueue::new();
                Ok(Self {
                    budget: None,
                    queue: Arc::new(queue.clone()),
                    coordinator: Arc::new(EmbeddedCoordinator::new(store.clone())),
                    queues: Some(Queues::Memory(queue)),
                })
            }
        }
    }

    pub fn take_queues(&mut self) -> anyhow::Result<Queues> {
        self.queues
            .take()
            .context("the queues are consumed by one worker pool per process")
    }
}

/// The key that signs pagination cursors: derived from the credential key so every gateway
/// replica of a deployment agrees without another secret to distribute.
pub fn cursor_key(global: &Global) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let seed = match &global.secret_key {
        Some(k) => k.trim().as_bytes().to_vec(),
        None => std::fs::read(global.data_dir.join("secret.key")).unwrap_or_default(),
    };
    Sha256::new()
        .chain_update(b"tributary-cursor-v1\0")
        .chain_update(&seed)
        .finalize()
        .to_vec()
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A watch that turns true on SIGTERM or Ctrl-C.
pub(crate) fn shutdown_watch() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    rx
}
