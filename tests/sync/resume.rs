//! Checkpoints: a paused or crashed FULL resumes from its last committed page, fetches no
//! finished page again, and ends exactly as an uninterrupted run would.

use std::collections::BTreeMap;
use std::time::Duration;

use tributary_engine::{EngineError, RunControl, SyncEngine};
use tributary_model::{Model, RunState, SyncType, ToolKind};
use tributary_store::{RecordQuery, SyncRun};

use crate::support::{Backend, Harness, engine_config, wait_for_pages};

const EMPLOYEES: usize = 450; // five pages of Personio's 100 employees

/// How often each (path, query) was requested, auth aside.
fn request_counts(h: &Harness) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for r in h.requests(ToolKind::Personio, "/") {
        // Not pages: a run (and a resumed one) authenticates and reads the account's attribute
        // definitions once, as it must, for they may have changed meanwhile.
        if r.path.ends_with("/auth") || r.path.ends_with("/employees/attributes") {
            continue;
        }
        *out.entry((r.path, r.query)).or_default() += 1;
    }
    out
}

/// The mirror's content, without timestamps: what an uninterrupted run must equal.
async fn content(h: &Harness, integration: &str) -> BTreeMap<String, (bool, serde_json::Value)> {
    h.snapshot(integration)
        .await
        .into_iter()
        .map(|(id, (_, _, deleted, content))| (id, (deleted.is_some(), content)))
        .collect()
}

async fn uninterrupted(b: Backend) -> Option<(Harness, String)> {
    let h = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await?;
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    Some((h, id))
}

/// A FULL of `integration` paused after two pages, each page slowed so that it cannot end first
/// (the caller sets the latency back to 0).
async fn paused_after_two_pages(h: &Harness, integration: &str) -> SyncRun {
    h.sim.state.set_latency(ToolKind::Personio, 20);
    let (control, task) = h.spawn_sync(integration, SyncType::Full);
    wait_for_pages(&control, 2).await;
    control.pause();
    let paused = task.await.unwrap().expect("pause is a clean stop").run;
    assert_eq!(paused.state, RunState::Paused, "{paused:?}");
    paused
}

async fn paused_full_resumes_without_refetching(b: Backend) {
    let Some((reference, _)) = uninterrupted(b).await else {
        return;
    };
    let h = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await.unwrap();
    let id = h.connect(ToolKind::Personio).await;
    let paused = paused_after_two_pages(&h, &id).await;
    assert!(paused.checkpoint.is_some());
    let pages_before = paused.counts.pages_fetched;

    h.sim.state.set_latency(ToolKind::Personio, 0);
    let resumed = h.sync(&id, SyncType::Full).await;
    assert_eq!(resumed.id, paused.id, "the paused run itself resumed");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    assert!(resumed.counts.pages_fetched > pages_before);
    // Streams are listed concurrently, so the paused execution may have started the balances,
    // whose connector loads the absence type units (a listing of the types) once: the resumed
    // execution's new connector loads them again. Every page is fetched exactly once.
    let (mut got, mut want) = (request_counts(&h), request_counts(&reference));
    let units = ("/v1/company/time-off-types".to_owned(), "limit=200&offset=0".to_owned());
    let (got_units, want_units) = (got.remove(&units).unwrap_or(0), want.remove(&units).unwrap_or(0));
    assert!(
        (want_units..=want_units + 1).contains(&got_units),
        "the absence types were listed {got_units} times, {want_units} without the pause"
    );
    assert_eq!(got, want, "every page fetched exactly as often as without the pause");
    crate::support::assert_same_snapshot(
        &content(&h, &id).await,
        &content(&reference, &id).await,
        "same end state as an uninterrupted run",
    );
}

async fn crashed_full_resumes_from_checkpoint(b: Backend) {
    let Some((reference, _)) = uninterrupted(b).await else {
        return;
    };
    let h = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await.unwrap();
    let id = h.connect(ToolKind::Personio).await;
    h.sim.state.set_latency(ToolKind::Personio, 20);

    let crashing = SyncEngine::new(h.store.clone(), engine_config());
    let (control, task) = h.spawn_sync_with(crashing, &id, SyncType::Full);
    wait_for_pages(&control, 3).await;
    task.abort(); // the worker dies mid-run: no pause, no release, maybe mid-transaction
    let _ = task.await;
    let crashed = h
        .store
        .open_run(&id, SyncType::Full)
        .await
        .unwrap()
        .expect("the run is still open");
    assert_eq!(crashed.state, RunState::Running);
    assert!(crashed.counts.pages_fetched >= 3);

    h.sim.state.set_latency(ToolKind::Personio, 0);
    // Another worker takes over once the dead one's lease lapses.
    let other = SyncEngine::new(h.store.clone(), engine_config());
    let resumed = loop {
        match other.sync(&id, SyncType::Full, &RunControl::new()).await {
            Ok(outcome) => break outcome.run,
            Err(EngineError::Busy(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("resume failed: {e}"),
        }
    };
    assert_eq!(resumed.id, crashed.id, "the crashed run itself resumed");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    crate::support::assert_same_snapshot(
        &content(&h, &id).await,
        &content(&reference, &id).await,
        "same end state as an uninterrupted run",
    );

    // Finished pages are not fetched again; at most the pages in flight at the crash are: a
    // page being written and `prefetch` fetched ahead, for each stream listed at once. A page
    // of balances is one request for its employees and one per employee.
    let (got, want) = (request_counts(&h), request_counts(&reference));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same requests"
    );
    let repeated = |balances: bool| -> usize {
        got.iter()
            .filter(|(k, _)| k.0.ends_with("/absences/balance") == balances)
            .map(|(k, n)| n - want[k].min(*n))
            .sum()
    };
    let config = engine_config();
    let in_flight = config.stream_concurrency * (config.prefetch + 1);
    let (pages, balances) = (repeated(false), repeated(true));
    assert!(
        pages <= in_flight,
        "{pages} page requests repeated: more than the {in_flight} pages in flight"
    );
    let balance_pages: usize = got
        .iter()
        .filter(|(k, _)| k.1.contains("attributes%5B%5D=id"))
        .map(|(k, n)| n - want[k].min(*n))
        .sum();
    assert!(
        balances <= balance_pages * 100,
        "{balances} balance requests repeated for {balance_pages} repeated pages of 100 employees"
    );
}

/// A record deleted at the source while a full is paused, on a page it has not reached yet, is
/// swept at the end; records on pages it already passed are not.
async fn resumed_full_still_sweeps(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    h.sim.state.set_latency(ToolKind::Personio, 20);
    let (control, task) = h.spawn_sync(&id, SyncType::Full);
    wait_for_pages(&control, 2).await;
    control.pause();
    assert_eq!(task.await.unwrap().unwrap().run.state, RunState::Paused);

    let last = *h
        .sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .next_back()
        .unwrap();
    h.sim.state.company_mut(ToolKind::Personio).hris.employees.remove(&last);
    h.sim.state.set_latency(ToolKind::Personio, 0);
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let gone = tributary_model::IdGen::new(&id).id(tributary_model::Model::Employees, &last.to_string());
    let deleted: Vec<_> = h
        .records(&id, tributary_model::Model::Employees)
        .await
        .into_iter()
        .filter(|r| r.remote_deleted_at.is_some())
        .map(|r| r.id)
        .collect();
    assert_eq!(deleted, vec![gone], "exactly the removed employee was swept");
}

/// Greenhouse's list endpoints, in stream order.
const GREENHOUSE_LISTS: &[&str] = &[
    "/v3/users",
    "/v3/candidate_tags",
    "/v3/rejection_reasons",
    "/v3/jobs",
    "/v3/job_interview_stages",
    "/v3/candidates",
    "/v3/applications",
    "/v3/interviews",
    "/v3/offers",
];

/// A request for one record (`/v3/<resource>/<id>`), made to look something up: what a
/// resumed run must not make.
fn single_record_lookup(path: &str) -> bool {
    path.trim_start_matches('/').split('/').count() > 2
}

/// Greenhouse requests since `since`, by path.
fn greenhouse_requests(h: &Harness, since: u64) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in h
        .sim
        .state
        .requests(&tributary_sim::RequestFilter::tool(ToolKind::Greenhouse).since(since))
    {
        *out.entry(r.path).or_default() += 1;
    }
    out
}

/// A paused Greenhouse FULL, at every stream, resumes without per-record lookups: the run's
/// lookups (candidate tags by name, the stage of each interview-plan slot, names behind ids)
/// are lost with the connector and used to be rebuilt one record at a time (3,984-6,134 extra
/// requests in the probe of issue 12, against Harvest v1). With v3 every page resolves its ids
/// in bulk through the lists' id filters, so resuming costs what the remaining requests of an
/// uninterrupted run cost, plus each lookup once more and a new token.
async fn resumed_greenhouse_full_makes_no_single_lookups(b: Backend) {
    let Some(reference) = Harness::start(b, &[ToolKind::Greenhouse], 2000).await else {
        return;
    };
    let reference_id = reference.connect(ToolKind::Greenhouse).await;
    assert_eq!(
        reference.sync(&reference_id, SyncType::Full).await.state,
        RunState::Succeeded
    );
    let uninterrupted = greenhouse_requests(&reference, 0);
    assert!(
        uninterrupted.keys().all(|p| !single_record_lookup(p)),
        "an uninterrupted FULL looks nothing up record by record: {uninterrupted:?}"
    );
    assert!(
        uninterrupted.get("/v3/interviews").is_some_and(|n| *n >= 1),
        "{uninterrupted:?}"
    );
    // What a run reads to resolve ids and names rather than to list a stream.
    let lookup_lists: usize = [
        "/token",
        "/v3/candidate_tags",
        "/v3/rejection_reasons",
        "/v3/departments",
        "/v3/offices",
        "/v3/sources",
        "/v3/job_interviews",
    ]
    .iter()
    .map(|p| uninterrupted.get(*p).copied().unwrap_or(0))
    .sum();

    let h = Harness::start(b, &[ToolKind::Greenhouse], 2000).await.unwrap();
    let id = h.connect(ToolKind::Greenhouse).await;
    for (at, list) in GREENHOUSE_LISTS.iter().enumerate() {
        h.sim.state.set_latency(ToolKind::Greenhouse, 30);
        let started = h.sim.state.last_request_seq();
        let (control, task) = h.spawn_sync(&id, SyncType::Full);
        let filter = tributary_sim::RequestFilter::tool(ToolKind::Greenhouse)
            .path(*list)
            .since(started);
        let waited = std::time::Instant::now();
        while h.sim.state.request_count(&filter) == 0 {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "the FULL never reached {list}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        control.pause();
        let paused = task.await.unwrap().expect("pause is a clean stop").run;
        h.sim.state.set_latency(ToolKind::Greenhouse, 0);
        if paused.state != RunState::Paused {
            // The last page was in flight: nothing left to resume.
            assert_eq!(paused.state, RunState::Succeeded, "paused at {list}: {paused:?}");
            assert_eq!(at, GREENHOUSE_LISTS.len() - 1, "only the last stream can end first");
            continue;
        }

        let resumed_from = h.sim.state.last_request_seq();
        let before: usize = greenhouse_requests(&h, started).values().sum();
        let resumed = h.sync(&id, SyncType::Full).await;
        assert_eq!(resumed.id, paused.id, "the paused run itself resumed");
        assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
        let requests = greenhouse_requests(&h, resumed_from);
        let singles: Vec<_> = requests.iter().filter(|(p, _)| single_record_lookup(p)).collect();
        assert!(
            singles.is_empty(),
            "paused at {list}: the resumed run looked records up one by one: {} requests, e.g. {:?}",
            singles.iter().map(|(_, n)| **n).sum::<usize>(),
            singles.iter().take(3).collect::<Vec<_>>()
        );
        // Streams are listed concurrently, so what remains is not "the streams from the
        // paused one on": instead, both executions together make at most what an
        // uninterrupted run makes (a pause writes every page it fetched), plus each lookup
        // once more per execution (a new token, the tag list, and the names behind ids that
        // the first execution had already read) and the page in flight.
        let total: usize = uninterrupted.values().sum();
        let made: usize = requests.values().sum();
        assert!(
            before + made <= total + 2 * lookup_lists + 1,
            "paused at {list}: {before} requests before the pause and {made} after, where an \
             uninterrupted run makes {total} and the lookups cost {lookup_lists}: {requests:?}"
        );
    }
    crate::support::assert_same_snapshot(
        &content(&h, &id).await,
        &content(&reference, &reference_id).await,
        "interviews resolved to the same stages as in an uninterrupted run",
    );
}

/// Pauses a complete sync of `tool` as it reaches each stream (the first request whose path
/// contains `streams[i]`), resumes it, and checks that both executions together made no more
/// requests than an uninterrupted run, plus one listing of each lookup a run builds
/// (`lookups`: paths whose every request the resumed run may repeat once) and slack for a new
/// token.
async fn resume_costs_what_remains(
    b: Backend,
    tool: ToolKind,
    sync_type: SyncType,
    streams: &[&str],
    lookups: &[&str],
) {
    let Some(reference) = Harness::start(b, &[tool], EMPLOYEES).await else {
        return;
    };
    let reference_id = reference.connect(tool).await;
    assert_eq!(
        reference.sync(&reference_id, sync_type).await.state,
        RunState::Succeeded
    );
    let log = reference.sim.state.requests(&tributary_sim::RequestFilter::tool(tool));
    let lookup_cost = log
        .iter()
        .filter(|r| lookups.iter().any(|l| r.path.contains(l)))
        .count();

    let h = Harness::start(b, &[tool], EMPLOYEES).await.unwrap();
    let id = h.connect(tool).await;
    for (at, stream) in streams.iter().enumerate() {
        assert!(
            log.iter().any(|r| r.path.contains(stream)),
            "the uninterrupted run requested {stream}"
        );
        h.sim.state.set_latency(tool, 30);
        let started = h.sim.state.last_request_seq();
        let (control, task) = h.spawn_sync(&id, sync_type);
        let filter = tributary_sim::RequestFilter::tool(tool).path(*stream).since(started);
        let waited = std::time::Instant::now();
        while h.sim.state.request_count(&filter) == 0 {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "the sync never reached {stream}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        control.pause();
        let paused = task.await.unwrap().expect("pause is a clean stop").run;
        h.sim.state.set_latency(tool, 0);
        if paused.state != RunState::Paused {
            assert_eq!(paused.state, RunState::Succeeded, "paused at {stream}: {paused:?}");
            assert_eq!(at, streams.len() - 1, "only the last stream can end first");
            continue;
        }
        let resumed_from = h.sim.state.last_request_seq();
        let before = h
            .sim
            .state
            .request_count(&tributary_sim::RequestFilter::tool(tool).since(started));
        let resumed = h.sync(&id, sync_type).await;
        assert_eq!(resumed.id, paused.id, "the paused run itself resumed");
        assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
        let made = h
            .sim
            .state
            .request_count(&tributary_sim::RequestFilter::tool(tool).since(resumed_from));
        // Streams are listed concurrently: both executions together make at most what an
        // uninterrupted run makes (a pause writes every page it fetched), plus the lookups
        // the resumed run rebuilds and slack for a new token.
        assert!(
            before + made <= log.len() + lookup_cost + 2,
            "{tool:?} paused at {stream}: {before} requests before the pause and {made} after, where an \
             uninterrupted run makes {} and its lookups cost {lookup_cost}",
            log.len()
        );
    }
}

/// Personio's lookups, absence type units for balances and the account's attribute
/// definitions, are a listing each.
async fn resumed_personio_full_costs_what_remains(b: Backend) {
    resume_costs_what_remains(
        b,
        ToolKind::Personio,
        SyncType::Full,
        &[
            "/v1/company/employees",
            "/v1/company/time-off-types",
            "/v1/company/time-offs",
            "/absences/balance",
        ],
        &["/v1/company/time-off-types", "/v1/company/employees/attributes"],
    )
    .await;
}

/// BambooHR's snapshots are bulk reads a resumed run repeats once, as the stream's own first
/// page does.
async fn resumed_bamboohr_full_costs_what_remains(b: Backend) {
    resume_costs_what_remains(
        b,
        ToolKind::Bamboohr,
        SyncType::Full,
        &[
            "/v1/meta/lists",
            "/v1/hris/org/locations",
            "/v1/reports/custom",
            "/tables/compensation",
            "/v1/meta/time_off/types",
            "/v1/time_off/requests",
            "/time_off/calculator",
        ],
        &[
            "/v1/meta/lists",
            "/v1/meta/fields",
            "/v1/meta/time_off/types",
            "/v1/reports/custom",
        ],
    )
    .await;
}

/// How many of the integration's live records have a stored rendering ready, of how many.
async fn rendered_of_live(h: &Harness, integration: &str) -> (usize, usize) {
    let scope_version = h
        .store
        .get_integration(integration)
        .await
        .unwrap()
        .unwrap()
        .scope_version;
    let (mut rendered, mut live) = (0, 0);
    for &model in Model::ALL {
        let mut query = RecordQuery::new(integration, model);
        query.limit = 500;
        loop {
            let rows = h.store.rendered_page(&query, scope_version).await.unwrap();
            live += rows.len();
            rendered += rows.iter().filter(|r| r.body.is_some()).count();
            match rows.last() {
                Some(last) if rows.len() == 500 => query.after_id = Some(last.id.clone()),
                _ => break,
            }
        }
    }
    (rendered, live)
}

/// An integration's first FULL renders what it wrote once, at its end: paused before that, it
/// leaves no stored rendering (the read API renders those records live). A DELTA then succeeds
/// and renders only what it wrote (what the FULL had not reached), so the resumed FULL, no
/// longer the first, renders as it writes, and at its end renders what the paused part left.
async fn a_stopped_first_full_is_rendered_by_the_next_complete_run(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    let paused = paused_after_two_pages(&h, &id).await;
    let (rendered, live) = rendered_of_live(&h, &id).await;
    assert!(live > 0, "the paused FULL wrote records");
    assert_eq!(rendered, 0, "the first FULL renders only at its end");

    h.sim.state.set_latency(ToolKind::Personio, 0);
    let delta = h.sync(&id, SyncType::Delta).await;
    assert_eq!(delta.state, RunState::Succeeded, "{delta:?}");
    let (rendered, live) = rendered_of_live(&h, &id).await;
    assert!(
        rendered > 0 && rendered < live,
        "the delta rendered what it wrote, not the rest: {rendered} of {live}"
    );

    let resumed = h.sync(&id, SyncType::Full).await;
    assert_eq!(resumed.id, paused.id, "the paused run itself resumed");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    let (rendered, live) = rendered_of_live(&h, &id).await;
    assert_eq!(rendered, live, "every live record has its stored rendering");
}

crate::on_both_backends!(
    a_stopped_first_full_is_rendered_by_the_next_complete_run,
    paused_full_resumes_without_refetching,
    crashed_full_resumes_from_checkpoint,
    resumed_full_still_sweeps,
    resumed_greenhouse_full_makes_no_single_lookups,
    resumed_personio_full_costs_what_remains,
    resumed_bamboohr_full_costs_what_remains
);
