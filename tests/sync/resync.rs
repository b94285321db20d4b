//! Invariant I2: an identical re-sync writes nothing, moves no `changed_at`, and sends no
//! `data-changed` webhook (only its `sync-finished`).

use tributary_model::{Model, RunState, SyncType, ToolKind};
use tributary_store::{DeliveryFilter, NewWebhookEndpoint};

use crate::support::{Backend, Harness};

async fn identical_resync(backend: Backend, tool: ToolKind, sync_type: SyncType, models: &[Model]) {
    let Some(h) = Harness::start(backend, &[tool], 60).await else {
        return;
    };
    let endpoint = h
        .store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: "test".into(),
            url: "http://127.0.0.1:9/hooks".into(),
            secret: "resync-webhook-secret".into(),
            event_types: Vec::new(),
        })
        .await
        .expect("endpoint");
    let id = h.connect(tool).await;

    let first = h.sync(&id, sync_type).await;
    assert_eq!(first.state, RunState::Succeeded, "{first:?}");
    assert!(first.counts.created > 0, "the first sync creates records: {first:?}");
    for model in models {
        assert!(!h.live(&id, *model).await.is_empty(), "{model} mirrored");
    }
    let before = h.snapshot(&id).await;
    let changes_before = h.change_log_len(&id).await;

    let second = h.sync(&id, sync_type).await;
    assert_eq!(second.state, RunState::Succeeded, "{second:?}");
    assert_eq!(
        (second.counts.created, second.counts.updated, second.counts.deleted),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(
        second.counts.unchanged, first.counts.created,
        "every record seen again, unchanged"
    );
    crate::support::assert_same_snapshot(
        &h.snapshot(&id).await,
        &before,
        "no record row, changed_at or updated_at moved",
    );
    assert_eq!(
        h.change_log_len(&id).await,
        changes_before,
        "nothing appended to the change log"
    );

    let mut events: Vec<String> = h
        .store
        .list_deliveries(&DeliveryFilter {
            endpoint_id: Some(endpoint.id.clone()),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    events.reverse();
    assert_eq!(
        events,
        ["integration-created", "data-changed", "sync-finished", "sync-finished"],
        "the identical re-sync announces its end but no change"
    );
}

async fn personio_full_twice(b: Backend) {
    identical_resync(
        b,
        ToolKind::Personio,
        SyncType::Full,
        &[
            Model::Employees,
            Model::Employments,
            Model::Absences,
            Model::TimeOffBalances,
            Model::Groups,
        ],
    )
    .await;
}

async fn greenhouse_full_twice(b: Backend) {
    identical_resync(
        b,
        ToolKind::Greenhouse,
        SyncType::Full,
        &[
            Model::Candidates,
            Model::Applications,
            Model::Jobs,
            Model::ApplicationStages,
            Model::Users,
        ],
    )
    .await;
}

async fn bamboohr_full_twice(b: Backend) {
    identical_resync(
        b,
        ToolKind::Bamboohr,
        SyncType::Full,
        &[
            Model::Employees,
            Model::Employments,
            Model::Absences,
            Model::LegalEntities,
        ],
    )
    .await;
}

crate::on_both_backends!(personio_full_twice, greenhouse_full_twice, bamboohr_full_twice);
