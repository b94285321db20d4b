//! The shared budget against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`) and
//! the simulated Personio over real HTTP.
//!
//! Each "worker" is a client of its own, with its own in-memory budget, as a separate process
//! would have; only Redis joins them. Every test works under a key prefix of its own, so tests
//! share the server without flushing it. Without Redis they print `SKIPPED` and pass, unless
//! `TRIBUTARY_REQUIRE_SERVICES` is set.
//!
//! What is asserted is what the tool sees: which requests it refused, and that none arrived
//! while it had said the quota was spent. No test asserts how long anything took.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tributary_budget::RedisBudget;
use tributary_connectors::PersonioConnector;
use tributary_model::{IdGen, ToolKind};
use tributary_sim::{FaultAction, FaultRule, RequestFilter, SimConfig, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SharedBudget, SourceClient};
use tributary_store::testing::services_required;
use url::Url;

const TOOL: ToolKind = ToolKind::Personio;
const INTEGRATION: &str = "personio:acme";
const EMPLOYEES_PATH: &str = "/v1/company/employees";

async fn redis() -> Option<ConnectionManager> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let connect = async {
        let client = redis::Client::open(url.as_str())?;
        ConnectionManager::new(client).await
    };
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(conn)) => Some(conn),
        outcome => {
            let why = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer within 5 s".to_owned(),
            };
            assert!(
                !services_required(),
                "Redis is required but unavailable at {url}: {why}"
            );
            eprintln!("SKIPPED: no Redis at {url}: {why}");
            None
        }
    }
}

/// A budget under a prefix of its own, and the key of its integration's block.
fn budget(conn: &ConnectionManager) -> (Arc<dyn SharedBudget>, String) {
    let prefix = format!("budget-test-{}", uuid::Uuid::new_v4().simple());
    let block_key = format!("{prefix}:budget:{{{INTEGRATION}}}:blocked");
    (Arc::new(RedisBudget::new(conn.clone(), prefix)), block_key)
}

async fn simulator() -> Simulator {
    let config = SimConfig {
        employees: 50,
        tools: vec![TOOL],
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator");
    // Personio's documented limits: list employees at most 15 a second
    // (`docs/sources/personio.md`).
    sim.state.set_documented_limits(true);
    sim
}

/// One worker's connector: `rps` requests a second of its own, drawn from `shared` if given.
fn worker(sim: &Simulator, rps: u32, shared: Option<&Arc<dyn SharedBudget>>) -> PersonioConnector {
    let mut client = SourceClient::new(ClientConfig {
        requests_per_second: NonZeroU32::new(rps),
        // The limit under test is the configured budget; the tool's documented ones would
        // pace each worker on their own.
        documented_limits: false,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..ClientConfig::default()
    })
    .expect("client");
    if let Some(shared) = shared {
        client = client.with_shared_budget(shared.clone(), INTEGRATION);
    }
    let url = Url::parse(&sim.base_url(TOOL)).expect("base url");
    PersonioConnector::new(url, &sim.integration_credentials(TOOL), IdGen::new(INTEGRATION), client).expect("connector")
}

/// `workers` fetch the first page of employees `each` times apiece, all at once; how many
/// fetches failed (the client gave up retrying refusals).
async fn fetch_together(workers: &[PersonioConnector], each: usize) -> usize {
    let stream = workers[0]
        .streams()
        .into_iter()
        .find(|s| s.name == "employees")
        .expect("employees stream");
    let calls = workers.iter().flat_map(|w| (0..each).map(move |_| w)).map(|w| {
        let stream = stream.clone();
        async move { w.fetch_page(&stream, None, FetchMode::Full).await }
    });
    futures::future::join_all(calls)
        .await
        .iter()
        .filter(|r| r.is_err())
        .count()
}

fn tool_requests(sim: &Simulator) -> Vec<tributary_sim::LogEntry> {
    sim.state.requests(&RequestFilter::tool(TOOL))
}

fn list_requests(sim: &Simulator) -> Vec<tributary_sim::LogEntry> {
    let mut filter = RequestFilter::tool(TOOL);
    filter.path_contains = Some(EMPLOYEES_PATH.to_owned());
    sim.state
        .requests(&filter)
        .into_iter()
        .filter(|e| e.path == EMPLOYEES_PATH)
        .collect()
}

fn refused(sim: &Simulator) -> usize {
    list_requests(sim).iter().filter(|e| e.status == 429).count()
}

/// Four workers of one integration, each allowed 5 requests a second: on their own they send
/// 20 a second and Personio refuses what passes 15; sharing the budget in Redis they send 5
/// a second together (at most 10 in any second, burst included) and it refuses none.
#[tokio::test]
async fn workers_of_one_integration_spend_one_budget() {
    let Some(conn) = redis().await else { return };

    let alone = simulator().await;
    let workers: Vec<_> = (0..4).map(|_| worker(&alone, 5, None)).collect();
    fetch_together(&workers, 10).await;
    assert!(
        refused(&alone) > 0,
        "four budgets of 5/s side by side should pass Personio's 15 a second: {} requests, none refused",
        list_requests(&alone).len()
    );

    let together = simulator().await;
    let (shared, _) = budget(&conn);
    let workers: Vec<_> = (0..4).map(|_| worker(&together, 5, Some(&shared))).collect();
    assert_eq!(fetch_together(&workers, 10).await, 0, "every page fetched");
    assert_eq!(refused(&together), 0, "Personio refused requests of a shared budget");
    assert_eq!(
        list_requests(&together).len(),
        40,
        "one request per page, none repeated"
    );
}

/// The tool says "quota spent, come back in 3 s" to one worker: the other, which never saw the
/// refusal, sends nothing until then either.
#[tokio::test]
async fn a_block_one_worker_hears_holds_for_every_worker() {
    let Some(conn) = redis().await else { return };
    let sim = simulator().await;
    let (shared, block_key) = budget(&conn);
    let first = worker(&sim, 50, Some(&shared));
    let second = worker(&sim, 50, Some(&shared));
    let stream = first
        .streams()
        .into_iter()
        .find(|s| s.name == "employees")
        .expect("employees stream");

    let mut rule = FaultRule::new(
        TOOL,
        FaultAction::Status {
            code: 429,
            retry_after: Some("3".to_owned()),
            body: None,
        },
    )
    .path(EMPLOYEES_PATH);
    // The first request the rule matches (the stream first reads the attribute list).
    rule.times = Some(1);
    sim.state.add_fault(rule).expect("fault");

    let first_page = tokio::spawn({
        let stream = stream.clone();
        async move { first.fetch_page(&stream, None, FetchMode::Full).await }
    });
    // The second worker asks once the first has been refused and has told Redis.
    let mut redis = conn.clone();
    let refusal = loop {
        let blocked: bool = redis::cmd("EXISTS")
            .arg(&block_key)
            .query_async(&mut redis)
            .await
            .expect("EXISTS");
        if blocked && let Some(e) = tool_requests(&sim).into_iter().find(|e| e.status == 429) {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    second
        .fetch_page(&stream, None, FetchMode::Full)
        .await
        .expect("second worker's page");
    first_page.await.expect("join").expect("first worker's page");

    let after: Vec<_> = list_requests(&sim)
        .into_iter()
        .filter(|e| e.seq > refusal.seq)
        .collect();
    assert_eq!(after.len(), 2, "each worker's page, once: {after:?}");
    for e in after {
        let waited = e.at - refusal.at;
        // The block is timed by Redis's clock, the log by the simulator's (the same host's);
        // 100 ms covers the refusal being logged after it was sent.
        assert!(
            waited >= chrono::Duration::milliseconds(2_900),
            "a request arrived {} ms after the tool asked for 3 s",
            waited.num_milliseconds()
        );
    }
}
