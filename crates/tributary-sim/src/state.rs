//! The simulator's shared state: one company per simulated tool, the credentials each tool
//! accepts, revoked-credential switches, the fault plan and the request log.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
use tributary_model::ToolKind;

use crate::company::Company;

/// The credentials each simulated tool accepts, as its real counterpart would issue them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimCredentials {
    pub personio_client_id: String,
    pub personio_client_secret: String,
    pub greenhouse_api_key: String,
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
            greenhouse_api_key: "sim-greenhouse-key".into(),
            bamboohr_company_domain: "demo".into(),
            bamboohr_api_key: "sim-bamboohr-key".into(),
            greenhouse_webhook_secret: "sim-greenhouse-webhook-secret".into(),
        }
    }
}

/// Cheap to clone; every clone sees the same simulator.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

struct Inner {
    companies: HashMap<ToolKind, RwLock<Company>>,
    revoked: HashMap<ToolKind, AtomicBool>,
    credentials: SimCredentials,
    /// Bearer tokens issued by the simulated Personio `/v1/auth`.
    issued_tokens: Mutex<HashSet<String>>,
    faults: Mutex<crate::faults::FaultPlan>,
    log: Mutex<crate::log::RequestLog>,
}

impl SimState {
    pub fn new(companies: HashMap<ToolKind, Company>, credentials: SimCredentials) -> Self {
        let revoked = ToolKind::ALL.iter().map(|t| (*t, AtomicBool::new(false))).collect();
        Self {
            inner: Arc::new(Inner {
                companies: companies.into_iter().map(|(k, v)| (k, RwLock::new(v))).collect(),
                revoked,
                credentials,
                issued_tokens: Mutex::new(HashSet::new()),
                faults: Mutex::new(Default::default()),
                log: Mutex::new(Default::default()),
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

    /// Whether the tool's credentials were revoked through the control API: every request
    /// then fails authentication the way the real tool does.
    pub fn is_revoked(&self, tool: ToolKind) -> bool {
        self.inner.revoked[&tool].load(Ordering::SeqCst)
    }

    pub fn set_revoked(&self, tool: ToolKind, revoked: bool) {
        self.inner.revoked[&tool].store(revoked, Ordering::SeqCst);
        if revoked && tool == ToolKind::Personio {
            self.inner.issued_tokens.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    pub fn issue_token(&self, token: String) {
        self.inner.issued_tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token);
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.inner.issued_tokens.lock().unwrap_or_else(|p| p.into_inner()).contains(token)
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, crate::faults::FaultPlan> {
        self.inner.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, crate::log::RequestLog> {
        self.inner.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}
