use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tributary_store::ReadStore;

use crate::sync::SyncTrigger;

/// What every handler shares.
#[derive(Clone)]
pub struct GatewayState {
    pub store: Arc<dyn ReadStore>,
    /// The secret that signs pagination cursors (HMAC-SHA256). Any length works; 32 random
    /// bytes is the intent. Every gateway replica behind one load balancer needs the same key,
    /// or a cursor issued by one replica is rejected by the next.
    pub cursor_key: Arc<[u8]>,
    /// Queues syncs for `POST /v1/force-sync`; without one (a gateway with no fleet behind it)
    /// that endpoint answers 503.
    pub sync: Option<Arc<dyn SyncTrigger>>,
    /// [`GatewayOptions::body_limit`], for handlers that read bodies.
    pub(crate) body_limit: usize,
    /// Inbound webhooks waiting for a running sync to end before they queue another.
    pub(crate) follow_ups: Arc<crate::routes::follow_ups::FollowUps>,
    /// Refused inbound webhooks: their budget per integration, and counts.
    pub(crate) inbound_rejections: Arc<crate::routes::inbound_rejections::InboundRejections>,
    /// [`GatewayOptions::read_statement_timeout`], for the list endpoints' reads.
    pub(crate) read_statement_timeout: Option<Duration>,
    /// [`GatewayOptions::ready_timeout`].
    pub(crate) ready_timeout: Duration,
    /// [`GatewayOptions::stored_pages`].
    pub(crate) stored_pages: bool,
    /// Where the list endpoints' items came from.
    pub(crate) page_sources: Arc<PageSources>,
}

/// How many list items were served from stored renderings and how many were rendered live.
#[derive(Debug, Default)]
pub struct PageSources {
    pub(crate) stored: AtomicU64,
    pub(crate) live: AtomicU64,
}

/// A snapshot of [`PageSources`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageSourceStats {
    /// Items written from their stored rendering.
    pub stored: u64,
    /// Items rendered live: the gateway serves live only (see [`GatewayOptions::stored_pages`]),
    /// the request asked for deleted records, or the stored rendering was not ready.
    pub live: u64,
}

impl GatewayState {
    pub fn new(store: Arc<dyn ReadStore>, cursor_key: impl Into<Arc<[u8]>>) -> Self {
        Self {
            store,
            cursor_key: cursor_key.into(),
            sync: None,
            body_limit: GatewayOptions::default().body_limit,
            follow_ups: Arc::default(),
            inbound_rejections: Arc::default(),
            read_statement_timeout: GatewayOptions::default().read_statement_timeout,
            ready_timeout: GatewayOptions::default().ready_timeout,
            stored_pages: GatewayOptions::default().stored_pages,
            page_sources: Arc::default(),
        }
    }

    /// Where the list endpoints' items have come from since this gateway started.
    pub fn page_source_stats(&self) -> PageSourceStats {
        PageSourceStats {
            stored: self.page_sources.stored.load(Ordering::Relaxed),
            live: self.page_sources.live.load(Ordering::Relaxed),
        }
    }

    /// How many inbound webhooks this gateway refused, rate-limited and logged.
    pub fn inbound_rejection_stats(&self) -> crate::routes::inbound_rejections::RejectionStats {
        self.inbound_rejections.stats()
    }

    pub fn with_sync_trigger(mut self, trigger: Arc<dyn SyncTrigger>) -> Self {
        self.sync = Some(trigger);
        self
    }
}

/// Limits of the HTTP layer.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// A request still running after this answers `PLATFORM.TASK_TIMED_OUT`.
    pub request_timeout: Duration,
    /// Requests in flight beyond this are refused with `PLATFORM.CONCURRENCY_LIMIT_EXCEEDED`
    /// instead of queueing, so an overloaded replica sheds load quickly.
    pub max_in_flight: usize,
    /// The read API takes no bodies; anything larger than this is refused before it is read.
    pub body_limit: usize,
    /// Headers (names and values together) larger than this are refused in the error
    /// envelope. Far larger ones (hyper's own limits: 400 KiB, 100 headers) are refused by the
    /// HTTP server itself with a bare 431.
    pub header_limit: usize,
    /// Requests per second each API key may make, sustained (`None`: unlimited). Counted per
    /// gateway replica: behind a load balancer spreading keys over N replicas a key gets up to
    /// N times this.
    pub rate_limit_per_second: Option<u32>,
    /// Requests a key may make at once above the sustained rate after a quiet spell.
    pub rate_limit_burst: u32,
    /// How long the database may work on one list page before it cancels the read (Postgres
    /// `statement_timeout`, set per read transaction; waiting for a sync's page write counts).
    /// A cancelled read answers 504 `PLATFORM.TASK_TIMED_OUT`. It keeps one tenant's heavy
    /// filters from holding database time that another tenant's reads need. `None`: the
    /// database's own setting. SQLite has no statement timeout; there only `request_timeout`
    /// bounds a read (the client gets its answer, the statement runs to its end).
    pub read_statement_timeout: Option<Duration>,
    /// `GET /ready` answers 503 when the mirror has not answered a ping within this long.
    pub ready_timeout: Duration,
    /// Serve list items from their stored renderings where ready (the default). Off, every
    /// item is rendered live from the records, as before stored renderings existed: the same
    /// bytes, more work (the equivalence tests compare the two).
    pub stored_pages: bool,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_in_flight: 512,
            body_limit: 64 * 1024,
            header_limit: 32 * 1024,
            rate_limit_per_second: Some(100),
            rate_limit_burst: 200,
            read_statement_timeout: Some(Duration::from_secs(10)),
            ready_timeout: Duration::from_secs(1),
            stored_pages: true,
        }
    }
}
