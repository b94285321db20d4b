//! Query strings and bodies, parsed so that every mistake is a precise `PLATFORM.INPUT_INVALID`.
//! Unknown query parameters are refused too: a typo such as `?status=running` must not quietly
//! list everything.

use serde::Deserialize;
use serde_json::Value;
use tributary_model::{RunState, SyncType};

use crate::error::OpsError;

/// `GET /syncs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncsQuery {
    pub state: Option<String>,
}

impl SyncsQuery {
    /// `running`, `queued` or `paused` (any case); `None` lists every open run.
    pub fn state(&self) -> Result<Option<RunState>, OpsError> {
        let Some(text) = self.state.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        match RunState::parse(&text.to_ascii_uppercase()) {
            Some(state @ (RunState::Running | RunState::Queued | RunState::Paused)) => Ok(Some(state)),
            _ => Err(OpsError::invalid(format!(
                "`state` accepts `running`, `queued` or `paused`; got `{text}`."
            ))),
        }
    }
}

/// `GET /integrations/{id}/syncs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecentQuery {
    pub limit: Option<String>,
}

pub const DEFAULT_RECENT: i64 = 20;
pub const MAX_RECENT: i64 = 200;

impl RecentQuery {
    pub fn limit(&self) -> Result<i64, OpsError> {
        let Some(text) = self.limit.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(DEFAULT_RECENT);
        };
        match text.parse::<i64>() {
            Ok(limit) if (1..=MAX_RECENT).contains(&limit) => Ok(limit),
            _ => Err(OpsError::invalid(format!(
                "`limit` must be an integer from 1 to {MAX_RECENT}, got `{text}`."
            ))),
        }
    }
}

/// The optional body of `POST /integrations/{id}/syncs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    #[serde(default)]
    sync_type: Option<String>,
}

/// The sync type a trigger asks for; `None` (no body, an empty object, or `null`) lets the
/// engine pick. The body is read as JSON whatever its Content-Type says, so `curl -d` works.
pub fn trigger_sync_type(body: &[u8]) -> Result<Option<SyncType>, OpsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let invalid = |detail: String| {
        OpsError::invalid(format!(
            "The body must be a JSON object like {{\"sync_type\": \"FULL\"}}: {detail}."
        ))
    };
    // Through `Value` first: serde would also read a struct from a JSON array.
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid(format!("got {value}")));
    }
    let body: TriggerBody = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let Some(text) = body.sync_type else { return Ok(None) };
    SyncType::parse(&text.trim().to_ascii_uppercase())
        .map(Some)
        .ok_or_else(|| {
            OpsError::invalid(format!(
                "`sync_type` must be `FULL`, `DELTA` or `DEFAULT`, got `{text}`."
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_bodies() {
        assert_eq!(trigger_sync_type(b"").unwrap(), None);
        assert_eq!(trigger_sync_type(b" \n").unwrap(), None);
        assert_eq!(trigger_sync_type(b"{}").unwrap(), None);
        assert_eq!(trigger_sync_type(br#"{"sync_type": null}"#).unwrap(), None);
        assert_eq!(
            trigger_sync_type(br#"{"sync_type": "full"}"#).unwrap(),
            Some(SyncType::Full)
        );
        for bad in [
            &br#"{"sync_type": "WEEKLY"}"#[..],
            b"{",
            b"[]",
            br#"{"sync_type": 5}"#,
            br#"{"type": "FULL"}"#,
        ] {
            assert!(
                matches!(trigger_sync_type(bad), Err(OpsError::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn state_filters_and_limits() {
        let query = |state: &str| SyncsQuery {
            state: Some(state.into()),
        };
        assert_eq!(query("running").state().unwrap(), Some(RunState::Running));
        assert_eq!(query("PAUSED").state().unwrap(), Some(RunState::Paused));
        assert_eq!(query("").state().unwrap(), None);
        assert!(query("succeeded").state().is_err());
        let limit = |limit: &str| RecentQuery {
            limit: Some(limit.into()),
        };
        assert_eq!(RecentQuery::default().limit().unwrap(), DEFAULT_RECENT);
        assert_eq!(limit("200").limit().unwrap(), 200);
        for bad in ["0", "201", "-1", "ten"] {
            assert!(limit(bad).limit().is_err(), "{bad}");
        }
    }
}
