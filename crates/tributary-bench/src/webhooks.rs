//! `webhooks`: both directions through real processes.
//!
//! 1. In → out: a change in the simulated Greenhouse sends its signed webhook to a
//!    `tributary gateway` process, which queues a DELTA that a `tributary worker` process runs;
//!    its `data-changed` event reaches a receiver in this process through the worker's outbox
//!    deliverer. Timed from the mutation to the receipt, against the same mutation followed by
//!    a DELTA triggered directly (the sync's own cost, without the webhook path).
//! 2. Outbox: deliveries per second of many queued events by a worker process, against raw
//!    POSTs of the same payload to the same receiver at the same concurrency.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use tokio::task::JoinSet;
use tributary_engine::default_intervals;
use tributary_model::{SyncType, ToolKind};
use tributary_sim::{CandidateField, Mutation, WebhookTarget};
use tributary_store::NewWebhookEndpoint;

use crate::plot::{Chart, Series};
use crate::report::{self, Report};
use crate::stack::{self, Stack};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source changes timed from the mutation to `data-changed` at the receiver (and as many
    /// directly triggered DELTAs).
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Queued events delivered by a worker process in the outbox part.
    #[arg(long, default_value_t = 5000)]
    deliveries: usize,
    /// Outbound webhook attempts in flight at once: the worker's --webhook-concurrency (its
    /// default, 32) and the raw POSTs' concurrency.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Employees of the simulated company (the ATS scales with it).
    #[arg(long, default_value_t = 100)]
    employees: usize,
}

/// The secret the simulated Greenhouse signs its webhooks to the gateway with.
const GREENHOUSE_SECRET: &str = "greenhouse-bench-secret";
const ENDPOINT_SECRET: &str = "whsec_bench";
/// How long one sample may take before the run fails.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(
        args.samples > 0 && args.deliveries > 0,
        "--samples and --deliveries must be positive"
    );
    ensure!((1..=1024).contains(&args.concurrency), "--concurrency is 1 to 1024");
    let mut report = Report::new("webhooks");
    let (via_webhook, direct_ended, direct_changed) = in_to_out(&mut report, &args).await?;
    outbox(&mut report, &args).await?;

    let cdf = |samples: &[Duration]| {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len() as f64;
        ms.iter()
            .enumerate()
            .map(|(i, v)| (*v, 100.0 * (i + 1) as f64 / n))
            .collect::<Vec<_>>()
    };
    report.plot(
        out,
        "webhooks.png",
        &Chart {
            title: "Source change → data-changed at the receiver (CDF)",
            x_label: "ms after the mutation",
            y_label: "% of samples",
            log_x: false,
            log_y: false,
        },
        &[
            Series::new(
                "via the source's webhook (gateway, Redis, worker, outbox)",
                cdf(&via_webhook),
            ),
            Series::new("DELTA triggered directly: run ended", cdf(&direct_ended)),
            Series::new("DELTA triggered directly: data-changed received", cdf(&direct_changed)),
        ],
    )?;
    report.write(out)
}

// ---- the receiver ---------------------------------------------------------------------------

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    event_type: String,
    integration_id: Option<String>,
    sync_id: Option<String>,
}

#[derive(Default)]
struct Inbox {
    seen: Mutex<Vec<Seen>>,
    count: AtomicUsize,
    /// The last body, for the raw POSTs to send the same payload.
    last_body: Mutex<Option<Bytes>>,
}

impl Inbox {
    fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn first_at(&self) -> Option<Instant> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .map(|s| s.at)
    }

    /// The first `event_type` of `integration` among the requests from index `from` on.
    fn find(&self, from: usize, event_type: &str, integration: &str) -> Option<Seen> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(from..)?
            .iter()
            .find(|s| s.event_type == event_type && s.integration_id.as_deref() == Some(integration))
            .cloned()
    }

    async fn wait(&self, from: usize, event_type: &str, integration: &str) -> anyhow::Result<Seen> {
        let started = Instant::now();
        loop {
            if let Some(seen) = self.find(from, event_type, integration) {
                return Ok(seen);
            }
            if started.elapsed() > SAMPLE_TIMEOUT {
                bail!("no {event_type} of {integration} reached the receiver within {SAMPLE_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// An HTTP receiver on 127.0.0.1 that records every request and answers 200; its URL.
async fn receiver(inbox: Arc<Inbox>) -> anyhow::Result<String> {
    let app = Router::new().route("/hook", post(receive)).with_state(inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the receiver stopped: {e}");
        }
    });
    Ok(url)
}

async fn receive(State(inbox): State<Arc<Inbox>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let seen = Seen {
        at,
        event_type: text(&value["type"]).unwrap_or_default(),
        integration_id: text(&value["data"]["integration_id"]),
        sync_id: text(&value["data"]["sync_id"]),
    };
    inbox.seen.lock().unwrap_or_else(|p| p.into_inner()).push(seen);
    *inbox.last_body.lock().unwrap_or_else(|p| p.into_inner()) = Some(body);
    inbox.count.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

// ---- 1. source webhook in → data-changed out -----------------------------------------------

async fn in_to_out(report: &mut Report, args: &Args) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, Vec<Duration>)> {
    let mut stack = Stack::start("webhooks").await?;
    let sim = stack::simulator(&[ToolKind::Greenhouse], args.employees, 42).await?;
    let inbox = Arc::new(Inbox::default());
    let url = receiver(inbox.clone()).await?;
    stack
        .store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: "bench".into(),
            url,
            secret: ENDPOINT_SECRET.into(),
            event_types: vec![],
        })
        .await?;
    let id = stack.integration(&sim, ToolKind::Greenhouse, "acme", false).await?;
    // Webhooks active: every schedule runs every 24 h. No scheduler runs here anyway, so only
    // the webhooks (and the benchmark's own triggers) start syncs.
    stack
        .store
        .ensure_schedules(&id, &default_intervals(ToolKind::Greenhouse, true))
        .await?;
    stack
        .store
        .set_inbound_webhook_secret(&id, Some(GREENHOUSE_SECRET))
        .await?;
    let (_gateway, base) = stack.gateway("webhooks-gateway", &[]).await?;
    stack.worker("webhooks-w1", &[])?;

    // The mirror, filled by a first FULL, its events delivered.
    let before = inbox.len();
    let full = stack.trigger(&id, SyncType::Full).await?;
    stack
        .wait_succeeded(&full, Duration::from_secs(300), Duration::from_millis(50))
        .await?;
    inbox.wait(before, "sync-finished", &id).await?;

    sim.state
        .register_webhook(WebhookTarget {
            tool: ToolKind::Greenhouse,
            url: format!("{base}/v1/webhooks/greenhouse/{id}"),
            secret: GREENHOUSE_SECRET.into(),
            duplicate: false,
            max_attempts: 4,
        })
        .map_err(|e| anyhow::anyhow!("registering the simulator's webhook: {e}"))?;
    let candidates: Vec<_> = sim
        .state
        .company(ToolKind::Greenhouse)
        .ats
        .candidates
        .keys()
        .take(10)
        .copied()
        .collect();
    ensure!(!candidates.is_empty(), "the simulated Greenhouse has no candidates");

    let sampler = Sampler {
        stack: &stack,
        sim: &sim,
        inbox: &inbox,
        integration: &id,
        candidates: &candidates,
    };
    let load_webhook = report::load_average();
    let mut via_webhook = Vec::new();
    let mut budget = SourceBudget::new(&sim);
    for i in 0..args.samples {
        // The simulator's webhook reaches the gateway, which queues the DELTA.
        let (changed, _) = sampler.sample(&mut budget, i, "Webhook", false).await?;
        via_webhook.push(changed);
        progress(i, args.samples, "webhook samples");
    }
    let sent = sim.state.webhook_log(Some(ToolKind::Greenhouse), 0).1;
    let accepted = sent.iter().filter(|w| w.status == Some(202)).count();
    ensure!(
        accepted >= args.samples,
        "the gateway accepted {accepted} of the simulator's {} webhooks",
        sent.len()
    );

    // The peer: the same change, then a DELTA triggered directly.
    sim.state.unregister_webhook(Some(ToolKind::Greenhouse));
    let load_direct = report::load_average();
    let (mut direct_ended, mut direct_changed) = (Vec::new(), Vec::new());
    let mut budget = SourceBudget::new(&sim);
    for i in 0..args.samples {
        let (changed, ended) = sampler.sample(&mut budget, i, "Direct", true).await?;
        direct_changed.push(changed);
        direct_ended.extend(ended);
        progress(i, args.samples, "direct DELTA samples");
    }
    let table = report.table(
        &format!(
            "Source change → `data-changed` at a local receiver ({} samples, one after the other; Greenhouse, {} employees)",
            args.samples, args.employees
        ),
        &["path", "p50", "p90", "p99", "max", "load"],
    );
    let row = |what: &str, samples: &[Duration], load: &str| {
        vec![
            what.to_owned(),
            report::ms(report::quantile(samples, 0.5)),
            report::ms(report::quantile(samples, 0.9)),
            report::ms(report::quantile(samples, 0.99)),
            report::ms(report::quantile(samples, 1.0)),
            load.to_owned(),
        ]
    };
    table.row(row(
        "**webhook → gateway → DELTA → outbox → receiver**",
        &via_webhook,
        &load_webhook,
    ));
    table.row(row(
        "peer: DELTA triggered directly, run ended",
        &direct_ended,
        &load_direct,
    ));
    table.row(row(
        "DELTA triggered directly, `data-changed` received",
        &direct_changed,
        &load_direct,
    ));
    let p50 = |s: &[Duration]| report::quantile(s, 0.5).as_secs_f64();
    let p99 = |s: &[Duration]| report::quantile(s, 0.99).as_secs_f64();
    report.note(format!(
        "In → out: target p99 ≤ 1 s; this run p99 {}. The webhook path takes {} (p50) and {} (p99) of the sync's own cost (a directly triggered DELTA until its run ended). The outbox notifies the worker's deliverer when the DELTA's events commit (Postgres LISTEN/NOTIFY; its 200 ms poll is only the backstop), so the rest is the POST itself; the receiver stamps each request on arrival. Samples are paced to 80 % of the simulated Greenhouse's rate budget (500 requests per 10 s, announced in X-RateLimit-Remaining): unpaced, 3 of 200 samples waited 4–5 s for the window to reset, the client honouring the tool's quota.",
        report::ms(report::quantile(&via_webhook, 0.99)),
        report::ratio(p50(&via_webhook), p50(&direct_ended)),
        report::ratio(p99(&via_webhook), p99(&direct_ended)),
    ));
    report.data(
        "in_to_out_ms",
        serde_json::json!({
            "via_webhook": via_webhook.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            "direct_ended": direct_ended.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            "direct_data_changed": direct_changed.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        }),
    );
    Ok((via_webhook, direct_ended, direct_changed))
}

/// Waits until the run `finished` reports and every other run of the integration has ended,
/// so the next sample starts on an idle integration.
/// What one in → out sample needs.
struct Sampler<'a> {
    stack: &'a Stack,
    sim: &'a tributary_sim::Simulator,
    inbox: &'a Inbox,
    integration: &'a str,
    candidates: &'a [tributary_sim::company::Id],
}

impl Sampler<'_> {
    /// Sample `i`: within the source's budget, renames a candidate, and (`direct`) triggers a
    /// DELTA itself; the time until `data-changed` reached the receiver and (`direct`) until the
    /// run ended. Returns once the run has ended and reported, so samples do not overlap.
    async fn sample(
        &self,
        budget: &mut SourceBudget,
        i: usize,
        tag: &str,
        direct: bool,
    ) -> anyhow::Result<(Duration, Option<Duration>)> {
        budget.pace(self.sim).await;
        let before = self.inbox.len();
        let mutated = Instant::now();
        let change = Mutation::EditCandidate {
            candidate_id: self.candidates[i % self.candidates.len()],
            field: CandidateField::LastName,
            value: Some(format!("{tag}{i}")),
        };
        self.sim
            .state
            .mutate(ToolKind::Greenhouse, &change)
            .map_err(|e| anyhow::anyhow!("simulator mutation: {e}"))?;
        let ended = if direct {
            let run = self.stack.trigger(self.integration, SyncType::Delta).await?;
            self.stack
                .wait_succeeded(&run, SAMPLE_TIMEOUT, Duration::from_millis(1))
                .await?;
            Some(mutated.elapsed())
        } else {
            None
        };
        let changed = self
            .inbox
            .wait(before, "data-changed", self.integration)
            .await
            .with_context(|| format!("{tag} sample {}{}", i + 1, self.stack.log_tails()))?;
        let finished = self.inbox.wait(before, "sync-finished", self.integration).await?;
        quiet(self.stack, self.integration, &finished).await?;
        Ok((changed.at - mutated, ended))
    }
}

fn progress(i: usize, of: usize, what: &str) {
    if (i + 1).is_multiple_of(10) || i + 1 == of {
        println!("  {} of {of} {what}", i + 1);
    }
}

async fn quiet(stack: &Stack, integration: &str, finished: &Seen) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let runs = stack.store.list_runs(integration, 5).await?;
        let open = runs.iter().any(|r| !r.state.is_terminal());
        let reported = finished
            .sync_id
            .as_deref()
            .is_none_or(|id| runs.iter().any(|r| r.id == id && r.state.is_terminal()));
        if !open && reported {
            return Ok(());
        }
        if started.elapsed() > SAMPLE_TIMEOUT {
            bail!("{integration} still has open runs {SAMPLE_TIMEOUT:?} after its DELTA reported");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Keeps the samples within the simulated Greenhouse's rate budget. Like Harvest, it
/// announces `X-RateLimit-Remaining` per 10-second window (500 requests), and our client waits
/// for the window to reset when it reaches 0: back-to-back samples (each DELTA asks for every
/// Greenhouse stream) would then measure the tool's quota, seconds at a time, not tributary.
/// The samples start no faster than 40 requests a second on average, 80 % of the budget.
struct SourceBudget {
    started: Instant,
    first_seq: u64,
}

impl SourceBudget {
    const REQUESTS_PER_SECOND: f64 = 40.0;

    fn new(sim: &tributary_sim::Simulator) -> Self {
        SourceBudget {
            started: Instant::now(),
            first_seq: sim.state.last_request_seq(),
        }
    }

    async fn pace(&mut self, sim: &tributary_sim::Simulator) {
        let used = sim.state.last_request_seq().saturating_sub(self.first_seq) as f64;
        let due = self.started + Duration::from_secs_f64(used / Self::REQUESTS_PER_SECOND);
        tokio::time::sleep_until(due.into()).await;
    }
}

// ---- 2. the outbox ----------------------------------------------------------------------------

async fn outbox(report: &mut Report, args: &Args) -> anyhow::Result<()> {
    let mut stack = Stack::start("webhooks-outbox").await?;
    let inbox = Arc::new(Inbox::default());
    let url = receiver(inbox.clone()).await?;
    stack
        .store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: "outbox".into(),
            url: url.clone(),
            secret: ENDPOINT_SECRET.into(),
            event_types: vec![],
        })
        .await?;
    // One `integration-created` event per integration: deliveries of one integration go one
    // at a time, so the events come from as many integrations.
    let setup = Instant::now();
    let mut lanes = JoinSet::new();
    for lane in 0..8 {
        let store = stack.store.clone();
        let n = args.deliveries;
        lanes.spawn(async move {
            for i in (lane..n).step_by(8) {
                store
                    .create_integration(stack::idle_integration(format!("personio:o{i:06}"), "outbox"))
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = lanes.join_next().await {
        done??;
    }
    let pool = sqlx::PgPool::connect(&stack.db_url).await?;
    let (_, _, total) = delivery_counts(&pool).await?;
    ensure!(
        total == args.deliveries as i64,
        "{total} deliveries queued for {} events",
        args.deliveries
    );
    println!(
        "{} events queued in {} (setup, not measured)",
        report::thousands(total),
        report::secs(setup.elapsed())
    );

    let load = report::load_average();
    let spawned = Instant::now();
    let concurrency = args.concurrency.to_string();
    stack.worker("outbox-w1", &["--webhook-concurrency", &concurrency])?;
    let all_delivered = loop {
        let (delivered, dead, _) = delivery_counts(&pool).await?;
        ensure!(dead == 0, "{dead} deliveries DEAD{}", stack.log_tails());
        if delivered == total {
            break Instant::now();
        }
        if spawned.elapsed() > Duration::from_secs(600) {
            bail!("{delivered} of {total} delivered after 10 minutes{}", stack.log_tails());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let first = inbox.first_at().context("nothing reached the receiver")?;
    let elapsed = all_delivered - first;
    let received = inbox.count.load(Ordering::Relaxed);
    ensure!(
        received >= args.deliveries,
        "the receiver saw {received} requests for {total} deliveries"
    );
    let body = inbox
        .last_body
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .context("a body")?;

    // The limit: the same payload POSTed to the same receiver at the same concurrency; and
    // the same with one committed write per POST, the floor of recording each attempt.
    let raw_load = report::load_average();
    let raw = raw_posts(&url, body.clone(), args.deliveries, args.concurrency, None).await?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM webhook_deliveries")
        .fetch_all(&pool)
        .await?;
    let record_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(args.concurrency as u32)
        .connect(&stack.db_url)
        .await?;
    let recorded = raw_posts(
        &url,
        body.clone(),
        args.deliveries,
        args.concurrency,
        Some((&record_pool, Arc::new(ids))),
    )
    .await?;
    record_pool.close().await;
    pool.close().await;
    let recorded_rate = args.deliveries as f64 / recorded.as_secs_f64();

    let ours = args.deliveries as f64 / elapsed.as_secs_f64();
    let limit = args.deliveries as f64 / raw.as_secs_f64();
    let table = report.table(
        &format!(
            "Outbox: {} queued events to a local receiver (concurrency {})",
            report::thousands(args.deliveries as i64),
            args.concurrency
        ),
        &["sender", "time", "deliveries/s", "of limit", "load"],
    );
    table.row(vec![
        "**`tributary worker` deliverer** (claim, sign, POST, record)".into(),
        report::secs(elapsed),
        format!("**{}**", report::rate(ours)),
        report::ratio(ours, limit),
        load,
    ]);
    table.row(vec![
        format!("limit: raw POSTs of the same {} B payload (reqwest)", body.len()),
        report::secs(raw),
        report::rate(limit),
        "1.00×".into(),
        raw_load.clone(),
    ]);
    table.row(vec![
        "limit: the same POSTs, each followed by one committed UPDATE of its delivery row".into(),
        report::secs(recorded),
        report::rate(recorded_rate),
        report::ratio(recorded_rate, limit),
        raw_load,
    ]);
    report.note(format!(
        "Outbox: timed from the first request at the receiver to every delivery DELIVERED in the mirror (polled every 10 ms); the worker process started {} before its first delivery arrived. Every delivery ended DELIVERED, none DEAD. Against the POST-and-write floor the deliverer reaches {}: it also claims in batches, signs each payload and records each attempt (a row of its own plus the delivery's update) in one transaction.",
        report::ms(first - spawned),
        report::ratio(ours, recorded_rate)
    ));
    report.data(
        "outbox",
        serde_json::json!({
            "deliveries": args.deliveries,
            "concurrency": args.concurrency,
            "deliverer_s": elapsed.as_secs_f64(),
            "raw_s": raw.as_secs_f64(),
            "raw_recorded_s": recorded.as_secs_f64(),
            "payload_bytes": body.len(),
        }),
    );
    Ok(())
}

/// DELIVERED, DEAD and all deliveries.
async fn delivery_counts(pool: &sqlx::PgPool) -> anyhow::Result<(i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'DELIVERED'), count(*) FILTER (WHERE state = 'DEAD'), count(*) FROM webhook_deliveries",
    )
    .fetch_one(pool)
    .await?)
}

/// `n` POSTs of `body` to `url` from `concurrency` tasks; with `record`, each followed by one
/// committed UPDATE of a delivery row (by id, round robin), the least a sender that records
/// its attempts in Postgres does.
async fn raw_posts(
    url: &str,
    body: Bytes,
    n: usize,
    concurrency: usize,
    record: Option<(&sqlx::PgPool, Arc<Vec<String>>)>,
) -> anyhow::Result<Duration> {
    if let Some((pool, _)) = &record {
        // Every connection open before the clock starts.
        let barrier = Arc::new(tokio::sync::Barrier::new(concurrency));
        let mut opening = JoinSet::new();
        for _ in 0..concurrency {
            let (pool, barrier) = ((*pool).clone(), barrier.clone());
            opening.spawn(async move {
                let conn = pool.acquire().await?;
                barrier.wait().await;
                drop(conn);
                anyhow::Ok(())
            });
        }
        while let Some(done) = opening.join_next().await {
            done??;
        }
    }
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, body, next) = (client.clone(), url.to_owned(), body.clone(), next.clone());
        let record = record.as_ref().map(|(pool, ids)| ((*pool).clone(), ids.clone()));
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let status = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?
                    .status();
                ensure!(status.is_success(), "the receiver answered {status}");
                if let Some((pool, ids)) = &record {
                    sqlx::query("UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE id = $1")
                        .bind(&ids[i % ids.len()])
                        .execute(pool)
                        .await?;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed())
}
