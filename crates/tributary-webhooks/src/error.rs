use tributary_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("mirror: {0}")]
    Store(#[from] StoreError),
    #[error("invalid deliverer configuration: {0}")]
    Config(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}
