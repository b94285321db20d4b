//! One module per simulated tool; each exposes `router()` with paths relative to the tool's
//! base URL (the server nests them under `/personio`, `/greenhouse` and `/bamboohr`).

pub mod bamboohr;
pub mod greenhouse;
pub mod personio;

use std::time::Duration;

use tributary_model::ToolKind;

/// A rate limit a simulated tool imposes while `SimState::documented_limits()` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImposedLimit {
    /// `METHOD /path` as the tool's router sees it; `None`: every request together.
    pub endpoint: Option<&'static str>,
    pub requests: u32,
    pub per: Duration,
    /// Whether the vendor documents this number; `false`: the simulator's stand-in (the
    /// vendor documents the throttling response but no number; see the tool's ledger).
    pub documented: bool,
}

/// The limits `tool` imposes, for benchmarks that measure a sync against them.
pub fn imposed_limits(tool: ToolKind) -> Vec<ImposedLimit> {
    match tool {
        ToolKind::Personio => vec![
            ImposedLimit {
                endpoint: Some("GET /v1/company/employees"),
                requests: personio::limits::EMPLOYEES_PER_MINUTE as u32,
                per: Duration::from_secs(60),
                documented: true,
            },
            ImposedLimit {
                endpoint: Some("POST /v1/auth"),
                requests: personio::limits::AUTH_PER_MINUTE as u32,
                per: Duration::from_secs(60),
                documented: true,
            },
            ImposedLimit {
                endpoint: None,
                requests: personio::limits::IP_PER_MINUTE as u32,
                per: Duration::from_secs(60),
                documented: true,
            },
        ],
        ToolKind::Greenhouse => vec![
            ImposedLimit {
                endpoint: None,
                requests: greenhouse::DOCUMENTED_RATE_LIMIT,
                per: greenhouse::RATE_WINDOW,
                // The guide's example value; the real limit is per integration.
                documented: false,
            },
            ImposedLimit {
                endpoint: Some("POST /token"),
                requests: greenhouse::TOKEN_RATE_LIMIT,
                per: greenhouse::TOKEN_WINDOW,
                // The window is the guide's; the count is the simulator's stand-in.
                documented: false,
            },
        ],
        ToolKind::Bamboohr => vec![ImposedLimit {
            endpoint: None,
            requests: bamboohr::Throttle::LIMIT,
            per: bamboohr::Throttle::WINDOW,
            documented: false,
        }],
    }
}
