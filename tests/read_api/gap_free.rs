//! Case 10, invariant I3 (issue #4 item 5): a consumer that polls with `updated_after` set to
//! the start of its previous read misses nothing while syncs commit concurrently; and a
//! cursor walk across a sync returns each id once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tributary_model::{Model, RunState, SyncType, ToolKind};

use crate::gateway::Api;
use crate::support::Backend;

const ROUNDS: u64 = 12;

async fn polling_consumer_misses_nothing(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let p = api.personio.as_str();
    let done = AtomicBool::new(false);

    let consumer = async {
        let mut view: BTreeMap<String, Value> = BTreeMap::new();
        let mut since: Option<String> = None;
        let mut reads = 0;
        loop {
            // Read before the read starts: the last read begins after the final sync ended.
            let last = done.load(Ordering::SeqCst);
            let start = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
            let mut query = vec![("include_deleted", "true")];
            if let Some(since) = &since {
                query.push(("updated_after", since));
            }
            for record in api.walk(Model::Employees, p, &query, "25").await {
                view.insert(record["id"].as_str().unwrap().to_owned(), record);
            }
            since = Some(start);
            reads += 1;
            if last {
                return (view, reads);
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    };
    let producer = async {
        let mut mutations = 0;
        for round in 0..ROUNDS {
            mutations += api
                .h
                .sim
                .state
                .mutate_random(ToolKind::Personio, 6, round)
                .unwrap()
                .len();
            let sync_type = if round % 4 == 3 {
                SyncType::Full
            } else {
                SyncType::Delta
            };
            let run = api.h.sync(p, sync_type).await;
            assert_eq!(run.state, RunState::Succeeded, "{run:?}");
        }
        // Deletions show after a complete sync.
        assert_eq!(api.h.sync(p, SyncType::Full).await.state, RunState::Succeeded);
        done.store(true, Ordering::SeqCst);
        mutations
    };
    let ((view, reads), mutations) = tokio::join!(consumer, producer);
    assert!(
        mutations > 0 && reads > ROUNDS as usize / 2,
        "{mutations} mutations, {reads} reads"
    );

    let fresh = api.by_id(Model::Employees, p, &[("include_deleted", "true")]).await;
    assert!(
        fresh.values().any(|e| !e["remote_deleted_at"].is_null()),
        "the mutations deleted no one"
    );
    let missing: Vec<&String> = fresh.keys().filter(|k| !view.contains_key(*k)).collect();
    let stale: Vec<(&String, &Value, &Value)> = fresh
        .iter()
        .filter_map(|(k, v)| view.get(k).filter(|seen| *seen != v).map(|seen| (k, seen, v)))
        .collect();
    let extra: Vec<&String> = view.keys().filter(|k| !fresh.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && stale.is_empty() && extra.is_empty(),
        "after {reads} reads: missing {missing:?}, extra {extra:?}, {} stale, first (id, seen, now): {:#?}",
        stale.len(),
        stale.first()
    );
}

async fn cursor_walk_across_a_sync_returns_each_id_once(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let p = api.personio.as_str();
    for include_deleted in ["true", "false"] {
        let before: BTreeSet<String> = api
            .ids(Model::Employees, p, &[("include_deleted", include_deleted)])
            .await;
        let query = [("include_deleted", include_deleted), ("page_size", "7")];
        let first = api.list(Model::Employees, p, &query).await;
        let mut walked: Vec<String> = first["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        let first_last = walked.last().cloned().expect("a first page");

        // Hires (new ids land anywhere in the key space), edits, departures.
        let employees = api.all(Model::Employees, p, &[]).await;
        for _ in 0..5 {
            api.h.mutate(ToolKind::Personio, json!({"kind": "hire"}));
        }
        let remote = |e: &Value| e["remote_id"].as_str().unwrap().parse::<u64>().unwrap();
        for e in employees.iter().step_by(9) {
            api.h.mutate(
                ToolKind::Personio,
                json!({"kind": "edit_employee", "employee_id": remote(e), "field": "last_name"}),
            );
        }
        let gone: BTreeSet<String> = employees
            .iter()
            .rev()
            .step_by(13)
            .take(3)
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        for e in employees.iter().filter(|e| gone.contains(e["id"].as_str().unwrap())) {
            api.h.mutate(
                ToolKind::Personio,
                json!({"kind": "delete_employee", "employee_id": remote(e)}),
            );
        }
        assert_eq!(api.h.sync(p, SyncType::Full).await.state, RunState::Succeeded);

        let mut cursor = first["next"].as_str().map(str::to_owned);
        while let Some(c) = cursor {
            let mut q = query.to_vec();
            q.push(("cursor", &c));
            let page = api.list(Model::Employees, p, &q).await;
            walked.extend(
                page["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned()),
            );
            cursor = page["next"].as_str().map(str::to_owned);
        }
        assert!(
            walked.windows(2).all(|w| w[0] < w[1]),
            "include_deleted={include_deleted}: ids repeat or go back"
        );
        let walked: BTreeSet<String> = walked.into_iter().collect();
        let survivors: BTreeSet<&String> = if include_deleted == "true" {
            before.iter().collect()
        } else {
            before.iter().filter(|id| !gone.contains(*id)).collect()
        };
        let skipped: Vec<&&String> = survivors.iter().filter(|id| !walked.contains(**id)).collect();
        assert!(
            skipped.is_empty(),
            "include_deleted={include_deleted}: the walk skipped {skipped:?}"
        );
        if include_deleted == "false" {
            // Departures the walk had not reached yet are not shown.
            let reached = first_last.as_str();
            let shown: Vec<&String> = gone
                .iter()
                .filter(|id| id.as_str() > reached && walked.contains(*id))
                .collect();
            assert!(shown.is_empty(), "deleted employees listed: {shown:?}");
        }
    }
}

crate::on_both_backends!(
    polling_consumer_misses_nothing,
    cursor_walk_across_a_sync_returns_each_id_once
);
