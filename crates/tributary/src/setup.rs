//! Start-up shared by every role: logging, opening the mirror named by the configuration and
//! the fleet's queues, the cursor-signing key and the shutdown signal.

use std::sync::Arc;

use anyhow::{Context, bail};
use tributary_queue::{Coordinator, EmbeddedCoordinator, JobQueue, MemoryQueue, RedisCoordinator, RedisQueue};
use tributary_store::{CredentialKey, MirrorStore, PgPoolSettings, PgStore, SqliteStore};
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

/// Opens (and migrates) the mirror: Postgres when a database URL is configured, otherwise the
/// embedded SQLite database under the data directory.
pub async fn open_store(global: &Global) -> anyhow::Result<Arc<dyn MirrorStore>> {
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
                Some(k) => CredentialKey::from_base64(k).context("TRIBUTARY_SECRET_KEY is not base64 of 32 bytes")?,
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
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
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
        Some(k) => CredentialKey::from_base64(k).context("TRIBUTARY_SECRET_KEY is not base64 of 32 bytes")?,
        None => bail!(
            "TRIBUTARY_SECRET_KEY is required with DATABASE_URL (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
        ),
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
    queues: Option<Queues>,
}

impl Fleet {
    pub async fn open(global: &Global, store: &Arc<dyn MirrorStore>) -> anyhow::Result<Self> {
        match &global.redis_url {
            Some(url) => {
                if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                    bail!("REDIS_URL must be a redis:// or rediss:// URL");
                }
                let conn = tributary_queue::connect(url)
                    .await
                    .context("cannot connect to Redis at REDIS_URL")?;
                let queue = RedisQueue::new(conn.clone(), &global.redis_prefix);
                Ok(Self {
                    queue: Arc::new(queue.clone()),
                    coordinator: Arc::new(RedisCoordinator::new(conn, global.redis_prefix.clone(), store.clone())),
                    queues: Some(Queues::Redis(queue)),
                })
            }
            None => {
                let queue = MemoryQueue::new();
                Ok(Self {
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
