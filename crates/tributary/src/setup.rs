//! Start-up shared by every role: logging, and opening the mirror named by the configuration.

use std::sync::Arc;

use anyhow::{Context, bail};
use tributary_store::{CredentialKey, MirrorStore, PgStore, SqliteStore};

use crate::cli::Global;

pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("error: --log `{filter}` is not a valid log filter: {e}");
        std::process::exit(2);
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .compact()
        .init();
}

/// Opens (and migrates) the mirror: Postgres when a database URL is configured, otherwise the
/// embedded SQLite database under the data directory.
pub async fn open_store(global: &Global) -> anyhow::Result<Arc<dyn MirrorStore>> {
    let store: Arc<dyn MirrorStore> = match &global.database_url {
        Some(url) => {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                bail!("DATABASE_URL must be a postgres:// URL (leave it unset for the embedded mode)");
            }
            let key = match &global.secret_key {
                Some(k) => CredentialKey::from_base64(k).context("TRIBUTARY_SECRET_KEY is not base64 of 32 bytes")?,
                None => bail!(
                    "TRIBUTARY_SECRET_KEY is required with DATABASE_URL (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
                ),
            };
            let store = PgStore::connect(url, key)
                .await
                .with_context(|| format!("cannot connect to the database at {}", redact_url(url)))?;
            Arc::new(store)
        }
        None => {
            std::fs::create_dir_all(&global.data_dir)
                .with_context(|| format!("cannot create data directory {}", global.data_dir.display()))?;
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
