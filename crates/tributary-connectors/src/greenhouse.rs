//! Greenhouse connector.

use async_trait::async_trait;
use serde_json::Value;
use tributary_model::{IdGen, Model, ToolKind};
use tributary_source::{Connector, FetchMode, Page, SourceClient, SourceError, Stream};
use url::Url;

pub struct GreenhouseConnector {
    #[allow(dead_code)]
    base_url: Url,
    #[allow(dead_code)]
    ids: IdGen,
    #[allow(dead_code)]
    client: SourceClient,
}

impl GreenhouseConnector {
    pub fn new(base_url: Url, _credentials: &Value, ids: IdGen, client: SourceClient) -> Result<Self, SourceError> {
        Ok(Self { base_url, ids, client })
    }
}

#[async_trait]
impl Connector for GreenhouseConnector {
    fn tool(&self) -> ToolKind {
        ToolKind::Greenhouse
    }

    fn streams(&self) -> Vec<Stream> {
        Vec::new()
    }

    async fn fetch_page(&self, _stream: &Stream, _cursor: Option<&Value>, _mode: FetchMode) -> Result<Page, SourceError> {
        Err(SourceError::Config("not implemented yet".into()))
    }

    fn remote_paths(&self, _model: Model, _field: &str) -> Vec<String> {
        Vec::new()
    }
}
