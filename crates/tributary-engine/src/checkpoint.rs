use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a run resumes: the stream (by index in the connector's sync order) and that stream's
/// cursor (`None`: its first page). Stored on the run with every committed page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub stream: usize,
    pub cursor: Option<Value>,
    /// Names of streams that failed so far in this run (the run cannot sweep deletions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_streams: Vec<String>,
}

impl Checkpoint {
    pub fn from_value(v: Option<&Value>) -> Checkpoint {
        v.and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("checkpoint serialises")
    }
}
