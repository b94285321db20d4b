//! The simulator's shared state: one company per simulated tool, the credentials each tool
//! accepts, revoked-credential switches, the fault plan and the request log.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tributary_model::ToolKind;

use crate::company::{Company, Id};
use crate::faults::{FaultError, FaultId, FaultPlan, FaultRule, InstalledFault};
use crate::log::{LogEntry, RequestFilter, RequestLog};
use crate::mutate::{self, Category, Mutation, MutationError, MutationOutcome};
use crate::webhooks::{SentWebhook, TargetView, WebhookError, WebhookTarget, Webhooks};

/// The credentials each simulated tool accepts, as its real counterpart would issue them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimCredentials {
    pub personio_client_id: String,
    pub personio_client_secret: String,
    /// Harvest v3 OAuth client credentials (Dev Center > API Credential Management > "Harvest
    /// V3 (OAuth)").
    pub greenhouse_client_id: String,
    pub greenhouse_client_secret: String,
    /// Lifetime of the access tokens the simulated token endpoint issues. Greenhouse documents
    /// one hour; tests shorten it to exercise refreshing.
    #[serde(default = "default_greenhouse_token_ttl")]
    pub greenhouse_token_ttl_secs: u64,
    /// BambooHR's `{companyDomain}` path segment.
    pub bamboohr_company_domain: String,
    pub bamboohr_api_key: String,
    /// Greenhouse signs its web hooks with this secret (used by the webhooks issue).
    pub greenhouse_webhook_secret: String,
}

impl Default for SimCredentials {
    fn default() -> Self {
        Self {
            personio_client_id: "sim-personio-client".into(),
            personio_client_secret: "sim-personio-secret".into(),
            greenhouse_client_id: "sim-greenhouse-client".into(),
            greenhouse_client_secret: "sim-greenhouse-secret".into(),
            greenhouse_token_ttl_secs: default_greenhouse_token_ttl(),
            bamboohr_company_domain: "demo".into(),
            bamboohr_api_key: "sim-bamboohr-key".into(),
            greenhouse_webhook_secret: "sim-greenhouse-webhook-secret".into(),
        }
    }
}

/// "Access Token: 1 hour" (<https://harvestdocs.greenhouse.io/docs/harvest-partner-oauth>).
fn default_greenhouse_token_ttl() -> u64 {
    3600
}

/// Cheap to clone; every clone sees the same simulator.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

struct Inner {
    companies: HashMap<ToolKind, RwLock<Company>>,
    revoked: HashMap<ToolKind, AtomicBool>,
    /// Whether each tool throttles at its documented rate limit (see the tool modules and
    /// `docs/sources/<tool>.md`). Off by default: tests that are not about throttling should
    /// not wait out a vendor's window.
    documented_limits: AtomicBool,
    credentials: SimCredentials,
    /// Bearer tokens issued by the simulated Personio `/v1/auth`.
    issued_tokens: Mutex<HashSet<String>>,
    faults: Mutex<FaultPlan>,
    log: Mutex<RequestLog>,
    /// Flips to true when the simulator stops, ending hanging faults and the mutator.
    shutdown: watch::Sender<bool>,
    /// Where each tool sends webhooks for its changes.
    webhooks: Webhooks,
}

impl SimState {
    pub fn new(companies: HashMap<ToolKind, Company>, credentials: SimCredentials) -> Self {
        Self::with_log_capacity(companies, credentials, crate::log::DEFAULT_CAPACITY)
    }

    /// Like `new`, keeping at most `log_capacity` requests in the request log.
    pub fn with_log_capacity(
        companies: HashMap<ToolKind, Company>,
        credentials: SimCredentials,
        log_capacity: usize,
    ) -> Self {
        let revoked = ToolKind::ALL.iter().map(|t| (*t, AtomicBool::new(false))).collect();
        Self {
            inner: Arc::new(Inner {
                companies: companies.into_iter().map(|(k, v)| (k, RwLock::new(v))).collect(),
                revoked,
                documented_limits: AtomicBool::new(false),
                credentials,
                issued_tokens: Mutex::new(HashSet::new()),
                faults: Mutex::new(FaultPlan::default()),
                log: Mutex::new(RequestLog::with_capacity(log_capacity)),
                shutdown: watch::Sender::new(false),
                webhooks: Webhooks::default(),
            }),
        }
    }

    /// The company `tool` serves. Panics if the simulator was started without that tool.
    pub fn company(&self, tool: ToolKind) -> RwLockReadGuard<'_, Company> {
        self.inner.companies[&tool].read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn company_mut(&self, tool: ToolKind) -> RwLockWriteGuard<'_, Company> {
        self.inner.companies[&tool].write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn has_tool(&self, tool: ToolKind) -> bool {
        self.inner.companies.contains_key(&tool)
    }

    pub fn credentials(&self) -> &SimCredentials {
        &self.inner.credentials
    }

    /// Whether the tools impose their documented rate limits (answering as each tool does when
    /// one is exceeded), rather than only the limits a fault rule injects.
    pub fn documented_limits(&self) -> bool {
        self.inner.documented_limits.load(Ordering::Relaxed)
    }

    pub fn set_documented_limits(&self, on: bool) {
        self.inner.documented_limits.store(on, Ordering::Relaxed);
    }

    /// Whether the tool's credentials were revoked through the control API: every request
    /// then fails authentication the way the real tool does.
    pub fn is_revoked(&self, tool: ToolKind) -> bool {
        self.inner.revoked[&tool].load(Ordering::SeqCst)
    }

    pub fn set_revoked(&self, tool: ToolKind, revoked: bool) {
        self.inner.revoked[&tool].store(revoked, Ordering::SeqCst);
        if revoked && tool == ToolKind::Personio {
            self.inner
                .issued_tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
    }

    pub fn issue_token(&self, token: String) {
        self.inner
            .issued_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token);
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.inner
            .issued_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(token)
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        self.inner.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, RequestLog> {
        self.inner.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tools this simulator serves, in `ToolKind::ALL` order.
    pub fn tools(&self) -> Vec<ToolKind> {
        ToolKind::ALL.iter().copied().filter(|t| self.has_tool(*t)).collect()
    }

    // --- faults --------------------------------------------------------------------------

    /// Installs a fault rule after the existing ones; returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> Result<FaultId, FaultError> {
        self.faults().add(rule)
    }

    /// The installed rules with their match/apply counters.
    pub fn fault_rules(&self) -> Vec<InstalledFault> {
        self.faults().rules().to_vec()
    }

    pub fn fault_rule(&self, id: FaultId) -> Option<InstalledFault> {
        self.faults().rule(id).cloned()
    }

    pub fn remove_fault(&self, id: FaultId) -> bool {
        self.faults().remove(id)
    }

    /// Removes every fault rule, or those of one tool.
    pub fn clear_faults(&self, tool: Option<ToolKind>) {
        self.faults().clear(tool);
    }

    /// Latency added to every request to `tool`; 0 turns it off.
    pub fn set_latency(&self, tool: ToolKind, ms: u64) {
        self.faults().set_latency(tool, ms);
    }

    /// Whether a `repeat_page` rule covers `path` of `tool` (see `FaultPlan::pagination_loop`).
    pub fn pagination_loop(&self, tool: ToolKind, path: &str) -> bool {
        self.faults().pagination_loop(tool, path)
    }

    // --- request log ---------------------------------------------------------------------

    pub fn requests(&self, filter: &RequestFilter) -> Vec<LogEntry> {
        self.log().entries(filter)
    }

    pub fn request_count(&self, filter: &RequestFilter) -> usize {
        self.log().count(filter)
    }

    /// The sequence number of the latest logged request; pass it as `since_seq` to see
    /// only what comes after.
    pub fn last_request_seq(&self) -> u64 {
        self.log().last_seq()
    }

    pub fn clear_requests(&self) {
        self.log().clear();
    }

    // --- mutations -----------------------------------------------------------------------

    /// Applies one mutation to `tool`'s company.
    pub fn mutate(&self, tool: ToolKind, mutation: &Mutation) -> Result<MutationOutcome, MutationError> {
        if !self.has_tool(tool) {
            return Err(MutationError::Invalid(format!(
                "{tool} is not served by this simulator"
            )));
        }
        let outcome = mutate::apply_for(&mut self.company_mut(tool), tool, mutation)?;
        self.notify(tool, std::slice::from_ref(&outcome));
        Ok(outcome)
    }

    /// Applies `count` random mutations suited to `tool` (HRIS or ATS), deterministic for
    /// the seed and the company's current state.
    pub fn mutate_random(
        &self,
        tool: ToolKind,
        count: usize,
        seed: u64,
    ) -> Result<Vec<MutationOutcome>, MutationError> {
        if !self.has_tool(tool) {
            return Err(MutationError::Invalid(format!(
                "{tool} is not served by this simulator"
            )));
        }
        let outcomes = mutate::random(&mut self.company_mut(tool), Category::of(tool), count, seed);
        self.notify(tool, &outcomes);
        Ok(outcomes)
    }

    /// Queues `tool`'s webhooks for what the mutations did, read from the company as they
    /// left it.
    fn notify(&self, tool: ToolKind, outcomes: &[MutationOutcome]) {
        if self.inner.webhooks.has_target(tool) {
            let domain = &self.inner.credentials.bamboohr_company_domain;
            self.inner.webhooks.notify(tool, &self.company(tool), domain, outcomes);
        }
    }

    // --- webhooks ------------------------------------------------------------------------

    /// Sends `target.tool`'s webhooks to `target.url` from now on (replacing its target).
    pub fn register_webhook(&self, target: WebhookTarget) -> Result<(), WebhookError> {
        self.inner.webhooks.register(target)
    }

    /// Stops sending `tool`'s webhooks (every tool's with `None`); whether any target was set.
    pub fn unregister_webhook(&self, tool: Option<ToolKind>) -> bool {
        self.inner.webhooks.unregister(tool)
    }

    pub fn webhook_targets(&self) -> Vec<TargetView> {
        self.inner.webhooks.targets()
    }

    /// Webhook requests sent after `since_seq` (of one tool, or all), with the last seq.
    pub fn webhook_log(&self, tool: Option<ToolKind>, since_seq: u64) -> (u64, Vec<SentWebhook>) {
        self.inner.webhooks.log(tool, since_seq)
    }

    /// Webhook deliveries not yet delivered or given up.
    pub fn webhooks_in_flight(&self) -> u64 {
        self.inner.webhooks.in_flight()
    }

    /// Entity counts of `tool`'s company (None when the tool is not served).
    pub fn stats(&self, tool: ToolKind) -> Option<CompanyStats> {
        self.has_tool(tool).then(|| CompanyStats::of(&self.company(tool)))
    }

    // --- lifecycle -----------------------------------------------------------------------

    pub(crate) fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Sleeps for `duration` unless the simulator shuts down first; false if it did.
    pub async fn pause(&self, duration: Duration) -> bool {
        let mut rx = self.inner.shutdown.subscribe();
        if *rx.borrow_and_update() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = rx.wait_for(|stopping| *stopping) => false,
        }
    }
}

/// How many of each entity a company holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyStats {
    pub employees: usize,
    pub employments: usize,
    pub departments: usize,
    pub offices: usize,
    pub legal_entities: usize,
    pub absence_types: usize,
    pub absences: usize,
    pub balances: usize,
    pub users: usize,
    pub jobs: usize,
    pub stages: usize,
    pub candidates: usize,
    pub applications: usize,
    pub tags: usize,
    pub rejection_reasons: usize,
    pub interviews: usize,
    pub offers: usize,
    pub next_id: Id,
}

impl CompanyStats {
    pub fn of(c: &Company) -> Self {
        Self {
            employees: c.hris.employees.len(),
            employments: c.hris.employees.values().map(|e| e.employments.len()).sum(),
            departments: c.hris.departments.len(),
            offices: c.hris.offices.len(),
            legal_entities: c.hris.legal_entities.len(),
            absence_types: c.hris.absence_types.len(),
            absences: c.hris.absences.len(),
            balances: c.hris.balances.len(),
            users: c.ats.users.len(),
            jobs: c.ats.jobs.len(),
            stages: c.ats.jobs.values().map(|j| j.stages.len()).sum(),
            candidates: c.ats.candidates.len(),
            applications: c.ats.applications.len(),
            tags: c.ats.tags.len(),
            rejection_reasons: c.ats.rejection_reasons.len(),
            interviews: c.ats.interviews.len(),
            offers: c.ats.offers.len(),
            next_id: c.next_id,
        }
    }
}
