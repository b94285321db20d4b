//! Every metric tributary exports: its name, unit, help text and, for histograms, buckets.
//!
//! Recording crates name metrics through these constants, so a metric has one spelling and
//! one description. Labels are listed on each constant; every label takes a bounded set of
//! values (tools, sync types, run states, models, endpoint templates, route templates, HTTP
//! status codes, queue names): nothing per record, per run, per raw path or per integration.
//! The only per-integration series are the N stalest integrations' gauges, rendered by the
//! fleet collector (see `crate::fleet`), N a flag.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

// --- Sync runs (worker: tributary-engine) -------------------------------------------------

/// Counter; labels `tool`, `sync_type`, `state`. One per execution of a run, by the state it
/// ended in (`SUCCEEDED`, `FAILED`, `PAUSED`, `CANCELLED`, ...): a paused FULL that resumes
/// later counts once PAUSED and once for its final state.
pub const SYNC_RUNS: &str = "tributary_sync_runs_total";
/// Histogram (seconds); labels `tool`, `sync_type`, `state`. Wall time of one execution.
pub const SYNC_RUN_DURATION: &str = "tributary_sync_run_duration_seconds";
/// Histogram (seconds); label `tool`. One page: fetch, preparation and write.
pub const SYNC_PAGE_DURATION: &str = "tributary_sync_page_duration_seconds";
/// Counter; labels `tool`, `model`, `change` (`created`, `updated`, `deleted`, `unchanged`).
pub const SYNC_RECORDS: &str = "tributary_sync_records_total";
/// Counter; label `tool`. FULL runs paused to let a due DELTA run.
pub const PREEMPTIONS: &str = "tributary_preemptions_total";
/// Histogram (seconds); label `tool`. From the DELTA's run being queued (it is due) to the
/// FULL it preempts being paused.
pub const PREEMPTION_LATENCY: &str = "tributary_preemption_latency_seconds";
/// Gauge; no labels. Integration leases this process holds now.
pub const LEASES_HELD: &str = "tributary_leases_held";

// --- Source requests (worker: tributary-source) ------------------------------------------

/// Counter; labels `tool`, `endpoint` (the connector's endpoint template, e.g.
/// `Personio GET /v1/company/employees`), `status` (HTTP status code, or `error` when no
/// response came). One per HTTP attempt.
pub const SOURCE_REQUESTS: &str = "tributary_source_requests_total";
/// Counter; labels `tool`, `endpoint`. Attempts repeated after a transient failure.
pub const SOURCE_RETRIES: &str = "tributary_source_retries_total";
/// Counter; label `tool`. Times a request waited because the tool said its quota was spent
/// (a 429 or a zero remaining-quota header).
pub const SOURCE_RATE_LIMIT_WAITS: &str = "tributary_source_rate_limit_waits_total";
/// Histogram (seconds); label `tool`. The `Retry-After` (or quota reset) the tool announced.
pub const SOURCE_RETRY_AFTER: &str = "tributary_source_retry_after_seconds";
/// Counter; label `tool`. Requests that kept to this process's own limits because the budget
/// shared by the fleet (Redis) did not answer.
pub const SOURCE_SHARED_BUDGET_ERRORS: &str = "tributary_source_shared_budget_errors_total";

// --- Webhooks (worker: tributary-webhooks) ------------------------------------------------

/// Counter; label `outcome` (`delivered`, `retry`, `dead`). One per delivery attempt.
pub const WEBHOOK_DELIVERIES: &str = "tributary_webhook_deliveries_total";
/// Histogram (seconds); no labels. From the event's creation to its delivery.
pub const WEBHOOK_DELIVERY_LAG: &str = "tributary_webhook_delivery_lag_seconds";
/// Counter; no labels. Deliveries that gave up (dead letters).
pub const WEBHOOK_DEAD_LETTERS: &str = "tributary_webhook_dead_letters_total";

// --- Gateway (gateway, serve: tributary-gateway) -------------------------------------------

/// Counter; labels `route` (the matched route template, e.g. `/v1/hris/employees`, or
/// `unmatched`), `method`, `status`.
pub const HTTP_REQUESTS: &str = "tributary_http_requests_total";
/// Histogram (seconds); labels `route`, `method`.
pub const HTTP_REQUEST_DURATION: &str = "tributary_http_request_duration_seconds";

// --- Fleet gauges (every role with `/metrics`, computed at scrape: crate::fleet) ------------

/// Gauge; labels `queue`, `state` (`pending`, `scheduled`, `running`). Jobs in the queue.
pub const QUEUE_JOBS: &str = "tributary_queue_jobs";
/// Gauge (seconds); label `queue`. Age of the oldest QUEUED run of the queue's sync type
/// (0 when none waits).
pub const QUEUE_OLDEST_JOB_AGE: &str = "tributary_queue_oldest_job_age_seconds";
/// Gauge; labels `sync_type`, `state` (`QUEUED`, `RUNNING`, `PAUSED`). Open runs in the mirror.
pub const OPEN_RUNS: &str = "tributary_open_runs";
/// Gauge; labels `tool`, `staleness` (`fresh`, `late`, `stale`, `never`). Integrations by
/// time since their last successful run against their shortest schedule interval: `fresh`
/// within 2 intervals, `late` within 5, `stale` beyond, `never` without a success.
pub const INTEGRATIONS_BY_STALENESS: &str = "tributary_integrations";
/// Gauge (seconds); labels `integration`, `tool`. Time since the last successful run, for
/// the N stalest integrations only (`--metrics-stalest`); never-succeeded ones count from
/// their creation.
pub const INTEGRATION_STALENESS: &str = "tributary_integration_staleness_seconds";
/// Gauge (ratio); labels `integration`, `tool`. The same, divided by the integration's
/// shortest schedule interval.
pub const INTEGRATION_STALENESS_RATIO: &str = "tributary_integration_staleness_ratio";
/// Gauge; label `collector`. 1 when the collector's last run answered within its timeout.
pub const COLLECTOR_UP: &str = "tributary_collector_up";
/// Gauge (seconds); label `collector`. How long the collector took at this scrape.
pub const COLLECTOR_DURATION: &str = "tributary_collector_duration_seconds";
/// Counter; labels `collector`, `reason` (`timeout`, `error`).
pub const COLLECTOR_FAILURES: &str = "tributary_collector_failures_total";

/// Page, request and delivery latencies: 5 ms to 30 s.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Whole runs: a DELTA takes seconds, a FULL of a large company tens of minutes.
const RUN_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0];
/// `Retry-After` values tools send: a second to the five minutes the client sleeps through.
const RETRY_AFTER_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Preemption latency: a FULL pauses at its next page boundary, so seconds, up to the lease.
const PREEMPTION_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Webhook lag: immediate delivery to retries spread over a day.
const LAG_BUCKETS: &[f64] = &[0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0, 21600.0, 86400.0];
/// Gateway requests: a cached list page in a millisecond to a slow filter in seconds.
const HTTP_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The buckets of every histogram, by name.
pub(crate) const BUCKETS: &[(&str, &[f64])] = &[
    (SYNC_RUN_DURATION, RUN_BUCKETS),
    (SYNC_PAGE_DURATION, LATENCY_BUCKETS),
    (SOURCE_RETRY_AFTER, RETRY_AFTER_BUCKETS),
    (PREEMPTION_LATENCY, PREEMPTION_BUCKETS),
    (WEBHOOK_DELIVERY_LAG, LAG_BUCKETS),
    (HTTP_REQUEST_DURATION, HTTP_BUCKETS),
];

/// Help text of the gauges the fleet collector renders itself (they bypass the recorder).
pub(crate) fn fleet_help(name: &str) -> &'static str {
    match name {
        QUEUE_JOBS => "Jobs in each queue, by state.",
        QUEUE_OLDEST_JOB_AGE => "Age in seconds of the oldest QUEUED run of each queue's sync type.",
        OPEN_RUNS => "Open runs in the mirror by sync type and state.",
        INTEGRATIONS_BY_STALENESS => {
            "Integrations by tool and staleness (time since last success against the shortest schedule interval)."
        }
        INTEGRATION_STALENESS => "Seconds since the last successful run, for the N stalest integrations.",
        INTEGRATION_STALENESS_RATIO => {
            "Seconds since the last successful run over the shortest schedule interval, for the N stalest integrations."
        }
        COLLECTOR_UP => "1 when the collector answered within its timeout at this scrape.",
        COLLECTOR_DURATION => "Seconds the collector took at this scrape.",
        _ => "",
    }
}

/// Describes every recorded metric to the installed recorder (HELP and unit lines).
pub(crate) fn describe() {
    describe_counter!(
        SYNC_RUNS,
        "Executions of sync runs by tool, sync type and the state they ended in."
    );
    describe_histogram!(
        SYNC_RUN_DURATION,
        Unit::Seconds,
        "Wall time of one execution of a sync run."
    );
    describe_histogram!(
        SYNC_PAGE_DURATION,
        Unit::Seconds,
        "Time to fetch, prepare and write one page."
    );
    describe_counter!(SYNC_RECORDS, "Records written by tool, model and change.");
    describe_counter!(PREEMPTIONS, "FULL runs paused so that a due DELTA could run.");
    describe_histogram!(
        PREEMPTION_LATENCY,
        Unit::Seconds,
        "From the preempting DELTA being queued to the FULL being paused."
    );
    describe_gauge!(LEASES_HELD, "Integration leases held by this process.");
    describe_counter!(
        SOURCE_REQUESTS,
        "HTTP attempts to source tools by tool, endpoint template and status."
    );
    describe_counter!(SOURCE_RETRIES, "Source requests repeated after a transient failure.");
    describe_counter!(
        SOURCE_RATE_LIMIT_WAITS,
        "Waits because a tool said its quota was spent."
    );
    describe_counter!(
        SOURCE_SHARED_BUDGET_ERRORS,
        "Source requests paced by this process alone because the shared rate budget did not answer."
    );
    describe_histogram!(
        SOURCE_RETRY_AFTER,
        Unit::Seconds,
        "Retry-After (or quota reset) announced by tools."
    );
    describe_counter!(WEBHOOK_DELIVERIES, "Outbound webhook delivery attempts by outcome.");
    describe_histogram!(
        WEBHOOK_DELIVERY_LAG,
        Unit::Seconds,
        "From an event's creation to its webhook delivery."
    );
    describe_counter!(
        WEBHOOK_DEAD_LETTERS,
        "Webhook deliveries that gave up after their last attempt."
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests served by route template, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request latency by route template."
    );
    describe_counter!(COLLECTOR_FAILURES, "Fleet collector runs that timed out or failed.");
}
