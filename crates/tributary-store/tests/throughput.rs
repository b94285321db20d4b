//! Write throughput of `apply_page` on Postgres, the number the engine's budget rests on
//! (target: ≥ 20,000 records/s for pages of 200–1,000 records of ~1 KB). Ignored by default;
//! run with
//! `cargo test -p tributary-store --test throughput -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tributary_model::{IdGen, Model, SourceRecord, SyncType, content_hash};
use tributary_store::testing;
use tributary_store::{MirrorStore, PageWrite, PreparedRecord, RunWrite};

const INTEGRATION: &str = "personio:bench";
const PAGES: usize = 60;
const PAGE_SIZE: usize = 500;

fn record(ids: &IdGen, n: usize, generation: usize) -> PreparedRecord {
    // ~1 KB of data + remote_data, shaped like an employee.
    let mut data = Map::new();
    data.insert("first_name".into(), json!(format!("First{n}")));
    data.insert("last_name".into(), json!(format!("Last{n}-{generation}")));
    data.insert("work_email".into(), json!(format!("person{n}@example.com")));
    data.insert("employment_status".into(), json!("ACTIVE"));
    data.insert(
        "job_title".into(),
        json!("Senior Software Engineer, Platform Infrastructure"),
    );
    data.insert(
        "manager_id".into(),
        json!(ids.id(Model::Employees, &(n / 10).to_string())),
    );
    data.insert(
        "custom_fields".into(),
        json!({"cost_center": format!("CC{}", n % 50), "notes": "x".repeat(300)}),
    );
    let source = SourceRecord::new(Model::Employees, n.to_string(), data)
        .with_remote_data(json!({"/v1/company/employees": {"id": n, "attributes": {"bio": "y".repeat(300)}}}))
        .depending_on(Model::Employees, (n / 10).to_string());
    PreparedRecord {
        model: source.model,
        id: ids.id(source.model, &source.remote_id),
        remote_id: source.remote_id.clone(),
        parent_id: None,
        depends_on: source.depends_on.iter().map(|(m, r)| ids.id(*m, r)).collect(),
        hash: content_hash(&source),
        data: source.data,
        remote_data: source.remote_data,
        remote_created_at: None,
    }
}

async fn pass(store: &dyn MirrorStore, run: &RunWrite, ids: &IdGen, generation: usize) -> f64 {
    let pages: Vec<PageWrite> = (0..PAGES)
        .map(|p| PageWrite {
            records: (0..PAGE_SIZE)
                .map(|i| record(ids, p * PAGE_SIZE + i, generation))
                .collect(),
            checkpoint: Value::from(p),
            scope_version: 1,
        })
        .collect();
    let started = Instant::now();
    for page in pages {
        store.apply_page(run, page).await.expect("page");
    }
    (PAGES * PAGE_SIZE) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test]
#[ignore = "benchmark; run explicitly"]
async fn postgres_apply_page_throughput() {
    let (store, _db) = testing::fresh_pg_store().await.expect("fresh database");
    store
        .create_integration(tributary_store::NewIntegration {
            id: INTEGRATION.into(),
            tool: tributary_model::ToolKind::Personio,
            environment: "bench".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({}),
            scope_config: Default::default(),
        })
        .await
        .expect("integration");
    let lease = store
        .acquire_lease(INTEGRATION, "bench", Duration::from_secs(600))
        .await
        .expect("lease")
        .expect("free");
    let created = store.create_run(INTEGRATION, SyncType::Full).await.expect("run");
    let started = store.start_run(&created.id, lease.fence, "bench").await.expect("start");
    let run = RunWrite {
        integration_id: INTEGRATION.into(),
        run_id: started.id,
        fence: lease.fence,
        sync_type: SyncType::Full,
        started_at: started.started_at.expect("started"),
        renderer: None,
        render_at_end: false,
    };
    let ids = IdGen::new(INTEGRATION);
    let insert = pass(store.as_ref(), &run, &ids, 0).await;
    let unchanged = pass(store.as_ref(), &run, &ids, 0).await;
    let update = pass(store.as_ref(), &run, &ids, 1).await;
    println!(
        "apply_page, {PAGES} pages x {PAGE_SIZE} records (~1 KB): insert {insert:.0} rec/s, unchanged {unchanged:.0} rec/s, update {update:.0} rec/s"
    );
    assert!(insert > 0.0 && unchanged > 0.0 && update > 0.0);
}
