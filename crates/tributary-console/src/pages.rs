//! One module per page: each reads through [`crate::ops`] and renders its template.

pub(crate) mod api_keys;
pub(crate) mod integration;
pub(crate) mod integrations;
pub(crate) mod overview;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod webhooks;

use serde::Deserialize;

/// What a redirect after an action tells the next page, by a fixed name: a page never
/// repeats text from its URL.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Notice {
    #[serde(default)]
    done: Option<String>,
}

impl Notice {
    pub(crate) fn text(&self) -> Option<&'static str> {
        Some(match self.done.as_deref()? {
            "pause-requested" => "Pause requested: the worker pauses the run at its next page.",
            "paused" => "The run is paused.",
            "resumed" => "The run is resumed and queued.",
            "cancel-requested" => "Cancel requested: the worker stops the run at its next page.",
            "cancelled" => "The run is cancelled.",
            "unchanged" => "Nothing needed changing.",
            "triggered" => "The sync is queued.",
            "already-queued" => "A sync of that type was already open; here it is.",
            "redelivered" => "The delivery is queued to be sent again.",
            "revoked" => "The API key is revoked.",
            "retried" => "A new run retries the failed one.",
            "schedule-paused" => "The schedule is paused: the scheduler queues nothing for it until it is resumed.",
            "schedule-resumed" => "The schedule is resumed.",
            _ => return None,
        })
    }
}
