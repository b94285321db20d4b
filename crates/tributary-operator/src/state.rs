use std::sync::Arc;

use tributary_queue::{Coordinator, JobQueue};
use tributary_store::AdminStore;

use crate::auth::{AdminToken, Failures};

/// What every operator handler shares: the mirror (the source of truth for runs), the queues
/// and the coordinator (leases, queued markers, signals), and the admin token.
#[derive(Clone)]
pub struct OperatorState {
    pub store: Arc<dyn AdminStore>,
    pub queue: Arc<dyn JobQueue>,
    pub coordinator: Arc<dyn Coordinator>,
    pub(crate) admin: Arc<AdminToken>,
    /// Wrong admin tokens per client, shared by every request.
    pub(crate) failures: Arc<Failures>,
}

impl OperatorState {
    /// `admin_token` is what `Authorization: Bearer` must carry; `None` (or an empty token)
    /// disables the API, so it is never open by accident.
    pub fn new(
        store: Arc<dyn AdminStore>,
        queue: Arc<dyn JobQueue>,
        coordinator: Arc<dyn Coordinator>,
        admin_token: Option<String>,
    ) -> Self {
        Self {
            store,
            queue,
            coordinator,
            admin: Arc::new(AdminToken::new(admin_token.as_deref())),
            failures: Arc::default(),
        }
    }

    /// Whether an admin token is configured; without one every operator surface refuses all.
    pub fn admin_configured(&self) -> bool {
        self.admin.configured()
    }

    /// Checks an admin token `client` presented at `path` (the console's sign-in), with the
    /// API's failure budget: a wrong one is charged, a client over budget is refused whatever
    /// it brings.
    pub fn check_admin_token(&self, client: std::net::IpAddr, path: &str, token: &str) -> Result<(), crate::OpsError> {
        crate::auth::attempt::check(&self.admin, &self.failures, client, path, token)
    }
}
