//! The forms the console's pages post.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    pub token: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TriggerForm {
    /// `FULL`, `DELTA` or `DEFAULT`; empty lets the engine pick.
    #[serde(default)]
    pub sync_type: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewKeyForm {
    pub environment: String,
    pub label: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    pub api_key_id: String,
}
