//! Connectors for real tools, written against their public API documentation. Each maps a
//! tool's endpoints (often several per unified concept) onto the unified model.

mod bamboohr;
mod greenhouse;
mod inbound;
mod personio;

pub use bamboohr::BambooHrConnector;
pub use greenhouse::GreenhouseConnector;
pub use inbound::{Delivery, InboundVerifier, MAX_AGE, Rejected};
pub use personio::PersonioConnector;

use serde_json::Value;
use tributary_model::{IdGen, Model, ToolKind};
use tributary_source::{Connector, RateLimit, SourceClient, SourceError};
use url::Url;

/// The connector for `tool`, talking to `base_url` with `credentials` (the tool's JSON auth
/// material, see each connector's docs) through `client`.
pub fn build(
    tool: ToolKind,
    base_url: &str,
    credentials: &Value,
    ids: IdGen,
    client: SourceClient,
) -> Result<Box<dyn Connector>, SourceError> {
    let base_url = Url::parse(base_url)
        .map_err(|e| SourceError::Config(format!("base URL `{base_url}` is not a valid URL: {e}")))?;
    if !matches!(base_url.scheme(), "http" | "https") {
        return Err(SourceError::Config(format!(
            "base URL `{base_url}` must be http or https"
        )));
    }
    Ok(match tool {
        ToolKind::Personio => Box::new(PersonioConnector::new(base_url, credentials, ids, client)?),
        ToolKind::Greenhouse => Box::new(GreenhouseConnector::new(base_url, credentials, ids, client)?),
        ToolKind::Bamboohr => Box::new(BambooHrConnector::new(base_url, credentials, ids, client)?),
    })
}

/// The request allowances `tool` documents per set of credentials, which every client of an
/// integration keeps to (spaced evenly) whatever the operator's budget allows: a refused
/// request costs its `Retry-After`, far more than waiting its turn. Empty: the tool publishes
/// no number, and its throttling responses alone pace us. Sources: `docs/sources/<tool>.md`.
pub fn documented_limits(tool: ToolKind) -> &'static [RateLimit] {
    match tool {
        ToolKind::Personio => personio::DOCUMENTED_LIMITS,
        ToolKind::Greenhouse => greenhouse::DOCUMENTED_LIMITS,
        ToolKind::Bamboohr => bamboohr::DOCUMENTED_LIMITS,
    }
}

/// How `tool` proves its inbound webhooks (see [`InboundVerifier`]). Needs no credentials: the
/// integration's webhook secret is all a check takes.
pub fn inbound_verifier(tool: ToolKind) -> &'static dyn InboundVerifier {
    match tool {
        ToolKind::Personio => &personio::webhook::Webhooks,
        ToolKind::Greenhouse => &greenhouse::webhook::Webhooks,
        ToolKind::Bamboohr => &bamboohr::webhook::Webhooks,
    }
}

/// JSON pointers (RFC 6901, with the wildcards of [`tributary_model::strip_pointer`]) into a
/// `remote_data` of `tool` that carry the unified `field` of `model`: what the engine strips
/// before storing a record whose field the scope disables, and what the read API strips from
/// rows stored before the field was disabled. Needs no credentials (the read API has none).
pub fn remote_paths(tool: ToolKind, model: Model, field: &str) -> Vec<String> {
    match tool {
        ToolKind::Personio => personio::remote_paths(model, field),
        ToolKind::Greenhouse => greenhouse::remote_paths(model, field),
        ToolKind::Bamboohr => bamboohr::remote_paths(model, field),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;
    use tributary_model::Model;
    use tributary_source::ClientConfig;

    use super::*;

    /// The read API's `GET /v1/integrations/{id}` reports every model of a tool's category as
    /// covered (`ToolKind::category`); this keeps that true.
    #[test]
    fn each_connector_syncs_every_model_of_its_category() {
        for &tool in ToolKind::ALL {
            let credentials = json!({"client_id": "x", "client_secret": "y", "api_key": "z"});
            let client = SourceClient::new(ClientConfig::default()).unwrap();
            let connector = build(tool, "http://127.0.0.1:1", &credentials, IdGen::new("t:x"), client).unwrap();
            let synced: BTreeSet<Model> = connector
                .streams()
                .iter()
                .flat_map(|s| s.models.iter().copied())
                .collect();
            let category: BTreeSet<Model> = Model::ALL
                .iter()
                .copied()
                .filter(|m| m.category() == tool.category())
                .collect();
            assert_eq!(synced, category, "{tool}");
        }
    }
}
