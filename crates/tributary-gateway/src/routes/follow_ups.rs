//! The follow-up DELTAs inbound webhooks wait to queue ([`super::inbound`]), held in the
//! gateway's state so every request on this replica sees them.

use std::collections::HashSet;
use std::sync::Mutex;

/// Integrations with a follow-up DELTA waiting on this replica, so a burst of webhooks during
/// one running DELTA waits once.
#[derive(Debug, Default)]
pub struct FollowUps(Mutex<HashSet<String>>);

impl FollowUps {
    pub(super) fn claim(&self, integration_id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(integration_id.to_owned())
    }

    pub(super) fn release(&self, integration_id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(integration_id);
    }
}
