//! The Redis lease against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`).
//!
//! Every test works under a key prefix of its own and deletes its keys when done, so the
//! tests run in parallel on a shared server that is never flushed. Without Redis they print
//! `SKIPPED` and pass, unless `TRIBUTARY_REQUIRE_SERVICES` is set.
//!
//! Expiry is exercised with short TTLs and waits of three TTLs; no test asserts a duration.

use std::sync::Arc;
use std::time::Duration;

use redis::Commands;
use redis::aio::ConnectionManager;
use serde_json::{Map, json};
use tributary_lease::{ConnectOptions, Lease, LeaseError, RedisLeases, connect, process_owner_id};
use tributary_model::{Model, ScopeConfig, SyncType, ToolKind};
use tributary_store::testing::{fresh_sqlite_store, pg_store_or_skip, services_required};
use tributary_store::{MirrorStore, NewIntegration, PageWrite, PreparedRecord, RunWrite, StoreError};

const INTEGRATION: &str = "personio:acme";
const SHORT_TTL: Duration = Duration::from_millis(300);
const LONG_TTL: Duration = Duration::from_secs(60);

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A lease handle under a fresh random prefix; deletes the prefix's keys when dropped, even
/// when the test panicked.
struct Fixture {
    leases: RedisLeases,
    conn: ConnectionManager,
    prefix: String,
}

impl Fixture {
    fn lease_key(&self) -> String {
        format!("{}:lease:{{{INTEGRATION}}}", self.prefix)
    }

    fn fence_key(&self) -> String {
        format!("{}:fence:{{{INTEGRATION}}}", self.prefix)
    }

    /// What a FLUSHALL or a restart without persistence does to this integration's counter.
    async fn lose_fence_counter(&self) {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.fence_key())
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }

    async fn pttl_ms(&self) -> i64 {
        let mut conn = self.conn.clone();
        redis::cmd("PTTL")
            .arg(self.lease_key())
            .query_async(&mut conn)
            .await
            .expect("PTTL")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Synchronous on purpose: Drop may run during a panic, outside any await point.
        let Ok(client) = redis::Client::open(redis_url()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else { return };
        let keys: Vec<String> = match conn.scan_match(format!("{}:*", self.prefix)) {
            Ok(keys) => keys.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

async fn redis_or_skip() -> Option<Fixture> {
    let options = ConnectOptions {
        reconnect_retries: 1,
        ..ConnectOptions::default()
    };
    match connect(&redis_url(), &options).await {
        Ok(conn) => {
            let prefix = format!("tributary-test-{}", uuid::Uuid::new_v4().simple());
            Some(Fixture {
                leases: RedisLeases::new(conn.clone(), prefix.clone()),
                conn,
                prefix,
            })
        }
        Err(e) if services_required() => {
            panic!(
                "Redis is required (TRIBUTARY_REQUIRE_SERVICES) but unavailable at {}: {e}",
                redis_url()
            )
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: no Redis at {} ({e}); set REDIS_URL or install redis-server",
                redis_url()
            );
            None
        }
    }
}

async fn acquire(f: &Fixture, owner: &str, ttl: Duration, floor: i64) -> Option<Lease> {
    f.leases.acquire(INTEGRATION, owner, ttl, floor).await.expect("acquire")
}

#[tokio::test]
async fn only_one_owner_holds_the_lease() {
    let Some(f) = redis_or_skip().await else { return };
    let a = acquire(&f, "a", LONG_TTL, 0).await.expect("a takes the free lease");
    assert_eq!(
        acquire(&f, "b", LONG_TTL, 0).await,
        None,
        "b is refused while a holds it"
    );
    assert_eq!(
        f.leases.holder(INTEGRATION).await.expect("holder"),
        Some(("a".to_owned(), a.fence))
    );
    assert_eq!(a.owner, "a");
    assert_eq!(a.integration_id, INTEGRATION);
    assert_eq!(a.ttl, LONG_TTL);
}

#[tokio::test]
async fn concurrent_acquisitions_grant_exactly_one() {
    let Some(f) = redis_or_skip().await else { return };
    let attempts = (0..8).map(|i| {
        let leases = f.leases.clone();
        async move { leases.acquire(INTEGRATION, &format!("w{i}"), LONG_TTL, 0).await }
    });
    let results = futures::future::join_all(attempts).await;
    let granted: Vec<Lease> = results.into_iter().filter_map(|r| r.expect("acquire")).collect();
    assert_eq!(granted.len(), 1, "exactly one of eight racing owners wins: {granted:?}");
}

#[tokio::test]
async fn the_holder_may_acquire_again_under_a_new_fence() {
    let Some(f) = redis_or_skip().await else { return };
    let first = acquire(&f, "a", LONG_TTL, 0).await.expect("first");
    let second = acquire(&f, "a", LONG_TTL, 0).await.expect("the holder re-acquires");
    assert!(second.fence > first.fence);
    assert_eq!(
        f.leases.holder(INTEGRATION).await.expect("holder"),
        Some(("a".to_owned(), second.fence))
    );
    assert!(
        !f.leases.renew(&first).await.expect("renew"),
        "the superseded fence is stale"
    );
    assert!(f.leases.renew(&second).await.expect("renew"));
}

#[tokio::test]
async fn fences_strictly_increase_across_acquisitions() {
    let Some(f) = redis_or_skip().await else { return };
    let mut last = 0;
    for owner in ["a", "b", "a", "c", "b"] {
        let lease = acquire(&f, owner, LONG_TTL, 0).await.expect("free after release");
        assert!(lease.fence > last, "{} after {last}", lease.fence);
        last = lease.fence;
        assert!(f.leases.release(&lease).await.expect("release"));
    }
    // A floor below the counter changes nothing.
    let lease = acquire(&f, "d", LONG_TTL, 1).await.expect("free");
    assert_eq!(lease.fence, last + 1);
}

#[tokio::test]
async fn renew_and_release_are_refused_to_others_and_old_fences() {
    let Some(f) = redis_or_skip().await else { return };
    let lease = acquire(&f, "a", SHORT_TTL, 0).await.expect("free");
    let stranger = Lease {
        owner: "b".to_owned(),
        ..lease.clone()
    };
    let old_fence = Lease {
        fence: lease.fence - 1,
        ..lease.clone()
    };
    for forged in [&stranger, &old_fence] {
        assert!(!f.leases.renew(forged).await.expect("renew"), "{forged:?}");
        assert!(!f.leases.release(forged).await.expect("release"), "{forged:?}");
    }
    assert_eq!(
        f.leases.holder(INTEGRATION).await.expect("holder"),
        Some(("a".to_owned(), lease.fence))
    );

    // The holder renews by its lease's TTL: renewing under a long TTL lifts the expiry far
    // beyond the short one it was granted with (checked on the key, not on a clock).
    let longer = Lease {
        ttl: LONG_TTL,
        ..lease.clone()
    };
    assert!(f.leases.renew(&longer).await.expect("renew"));
    assert!(f.pttl_ms().await > 10_000, "renewal extended the key's expiry");

    assert!(f.leases.release(&lease).await.expect("release"));
    assert_eq!(f.leases.holder(INTEGRATION).await.expect("holder"), None);
    assert!(!f.leases.release(&lease).await.expect("release"), "released only once");
    assert!(
        !f.leases.renew(&lease).await.expect("renew"),
        "a released lease cannot be renewed"
    );
}

#[tokio::test]
async fn an_expired_lease_passes_to_another_owner_with_a_higher_fence() {
    let Some(f) = redis_or_skip().await else { return };
    let a = acquire(&f, "a", SHORT_TTL, 0).await.expect("free");
    assert_eq!(acquire(&f, "b", SHORT_TTL, 0).await, None);
    tokio::time::sleep(SHORT_TTL * 3).await;

    assert_eq!(f.leases.holder(INTEGRATION).await.expect("holder"), None, "expired");
    let b = acquire(&f, "b", LONG_TTL, 0).await.expect("b takes the expired lease");
    assert!(b.fence > a.fence);
    assert!(!f.leases.renew(&a).await.expect("renew"), "a lost it");
    assert!(!f.leases.release(&a).await.expect("release"), "a cannot free b's lease");
    assert_eq!(
        f.leases.holder(INTEGRATION).await.expect("holder"),
        Some(("b".to_owned(), b.fence))
    );
}

#[tokio::test]
async fn the_floor_beats_a_lost_counter() {
    let Some(f) = redis_or_skip().await else { return };
    let lease = acquire(&f, "a", LONG_TTL, 0).await.expect("free");
    assert!(f.leases.release(&lease).await.expect("release"));

    f.lose_fence_counter().await;
    let after_flush = acquire(&f, "b", LONG_TTL, 41).await.expect("free");
    assert_eq!(after_flush.fence, 42, "max(counter, floor) + 1 with the counter gone");
    assert!(f.leases.release(&after_flush).await.expect("release"));
    let next = acquire(&f, "c", LONG_TTL, 0).await.expect("free");
    assert_eq!(next.fence, 43, "the counter carries on from the floor");
}

#[tokio::test]
async fn invalid_ttls_are_rejected_before_redis_is_asked() {
    let Some(f) = redis_or_skip().await else { return };
    for ttl in [Duration::ZERO, Duration::from_micros(999)] {
        let err = f
            .leases
            .acquire(INTEGRATION, "a", ttl, 0)
            .await
            .expect_err("sub-millisecond ttl");
        assert!(matches!(err, LeaseError::InvalidTtl(t) if t == ttl), "{err:?}");
    }
    assert_eq!(f.leases.holder(INTEGRATION).await.expect("holder"), None);
}

#[tokio::test]
async fn a_corrupt_lease_key_is_reported_not_misread() {
    let Some(f) = redis_or_skip().await else { return };
    let mut conn = f.conn.clone();
    let _: i64 = redis::cmd("HSET")
        .arg(f.lease_key())
        .arg("owner")
        .arg("a")
        .query_async(&mut conn)
        .await
        .expect("HSET");
    let err = f.leases.holder(INTEGRATION).await.expect_err("fence missing");
    assert!(matches!(err, LeaseError::Corrupt { .. }), "{err:?}");
    assert!(!err.is_transient());
}

#[test]
fn owner_ids_are_unique_per_call() {
    let (a, b) = (process_owner_id(), process_owner_id());
    assert_ne!(a, b);
    assert!(!a.starts_with('-'), "has a host part: {a}");
}

// ---- acquire_fenced with a real mirror ---------------------------------------------------

#[tokio::test]
async fn acquire_fenced_moves_the_sqlite_fence() {
    let Some(f) = redis_or_skip().await else { return };
    let (store, _file) = fresh_sqlite_store().await.expect("sqlite store");
    fenced_writes(&f, store).await;
}

#[tokio::test]
async fn acquire_fenced_moves_the_postgres_fence() {
    let Some(f) = redis_or_skip().await else { return };
    let Some((store, _db)) = pg_store_or_skip().await else {
        return;
    };
    fenced_writes(&f, store).await;
}

async fn fenced_writes(f: &Fixture, store: Arc<dyn MirrorStore>) {
    let store = store.as_ref();
    let missing = f.leases.acquire_fenced(store, INTEGRATION, "a", LONG_TTL).await;
    assert!(
        matches!(missing, Err(LeaseError::IntegrationNotFound(_))),
        "{missing:?}"
    );
    store
        .create_integration(NewIntegration {
            id: INTEGRATION.to_owned(),
            tool: ToolKind::Personio,
            environment: "production".to_owned(),
            base_url: "http://127.0.0.1:1".to_owned(),
            credentials: json!({}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .expect("integration");

    // The first worker takes the lease; the mirror now holds its fence and takes its pages.
    let first = f
        .leases
        .acquire_fenced(store, INTEGRATION, "a", LONG_TTL)
        .await
        .expect("acquire_fenced")
        .expect("free");
    assert_eq!(mirror_fence(store).await, first.fence);
    let run = store.create_run(INTEGRATION, SyncType::Full).await.expect("run");
    let run = store.start_run(&run.id, first.fence, "a").await.expect("started");
    let write = RunWrite {
        integration_id: INTEGRATION.to_owned(),
        run_id: run.id.clone(),
        fence: first.fence,
        sync_type: SyncType::Full,
        started_at: run.started_at.expect("started_at"),
        renderer: None,
        render_at_end: false,
    };
    store.apply_page(&write, page("1")).await.expect("the holder writes");

    // While it holds the lease, nobody else gets it and the mirror's fence stays.
    let refused = f
        .leases
        .acquire_fenced(store, INTEGRATION, "b", LONG_TTL)
        .await
        .expect("acquire_fenced");
    assert_eq!(refused, None);
    assert_eq!(mirror_fence(store).await, first.fence);

    // Redis forgets everything (a flush), the lease passes on: the new fence starts above the
    // mirror's, and the first worker's late page is rejected.
    let mut conn = f.conn.clone();
    let _: i64 = redis::cmd("DEL")
        .arg(f.lease_key())
        .arg(f.fence_key())
        .query_async(&mut conn)
        .await
        .expect("DEL");
    let second = f
        .leases
        .acquire_fenced(store, INTEGRATION, "b", LONG_TTL)
        .await
        .expect("acquire_fenced")
        .expect("free after the flush");
    assert_eq!(second.fence, first.fence + 1);
    assert_eq!(mirror_fence(store).await, second.fence);
    match store.apply_page(&write, page("2")).await {
        Err(StoreError::Fenced { held, current, .. }) => {
            assert_eq!((held, current), (first.fence, second.fence));
        }
        other => panic!("a write under the old fence must be fenced, got {other:?}"),
    }
    let resumed = RunWrite {
        fence: second.fence,
        ..write
    };
    store
        .apply_page(&resumed, page("2"))
        .await
        .expect("the new holder writes");
}

async fn mirror_fence(store: &dyn MirrorStore) -> i64 {
    store
        .get_integration(INTEGRATION)
        .await
        .expect("get_integration")
        .expect("integration exists")
        .fence
}

fn page(remote_id: &str) -> PageWrite {
    let mut data = Map::new();
    data.insert("first_name".to_owned(), json!("Ada"));
    PageWrite {
        records: vec![PreparedRecord {
            model: Model::Employees,
            id: format!("employee-{remote_id}"),
            remote_id: remote_id.to_owned(),
            parent_id: None,
            depends_on: Vec::new(),
            data,
            remote_data: None,
            remote_created_at: None,
            hash: [remote_id.as_bytes()[0]; 16],
        }],
        checkpoint: json!({"offset": remote_id}),
        scope_version: 1,
    }
}
