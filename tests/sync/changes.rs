//! Invariant I2 and the nested-change rule: a change moves exactly the changed record's
//! `changed_at`; a nested change moves the parent's `updated_at` marker only. Which nested and
//! linked changes move which records follows Kombo's per-endpoint `updated_after` rules
//! (the table in each endpoint's `updated_after` parameter in Kombo's OpenAPI document,
//! vendored at `crates/tributary-render/openapi/kombo-openapi.json`), checked here through
//! the mirror's `updated_after` reads.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use tributary_model::{IdGen, Model, RunState, SyncType, Timestamp, ToolKind};
use tributary_store::RecordQuery;

use crate::support::{Backend, Harness};

/// Ids whose `changed_at` / `updated_at` differ between two snapshots.
async fn moved(
    h: &Harness,
    id: &str,
    run: impl std::future::Future<Output = ()>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let before = h.snapshot(id).await;
    run.await;
    let after = h.snapshot(id).await;
    let mut changed = BTreeSet::new();
    let mut updated = BTreeSet::new();
    for (rid, (c, u, _, _)) in &after {
        match before.get(rid) {
            Some((c0, u0, _, _)) => {
                if c != c0 {
                    changed.insert(rid.clone());
                }
                if u != u0 {
                    updated.insert(rid.clone());
                }
            }
            None => {
                changed.insert(rid.clone());
                updated.insert(rid.clone());
            }
        }
    }
    (changed, updated)
}

async fn one_edit_moves_one_record(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);

    let employee = *h
        .sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .nth(7)
        .unwrap();
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": employee, "field": "last_name", "value": "Lovelace-Byron"}),
    );
    let (changed, updated) = moved(&h, &id, async {
        let run = h.sync(&id, SyncType::Delta).await;
        assert_eq!(run.state, RunState::Succeeded, "{run:?}");
        assert_eq!(run.counts.updated, 1, "{run:?}");
    })
    .await;
    let employee_id = IdGen::new(&id).id(Model::Employees, &employee.to_string());
    assert_eq!(
        changed,
        BTreeSet::from([employee_id.clone()]),
        "exactly the edited employee changed"
    );
    assert!(updated.contains(&employee_id));
    let stored = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .find(|r| r.id == employee_id)
        .unwrap();
    assert_eq!(stored.data["last_name"], "Lovelace-Byron");
}

/// BambooHR serves employments (compensation table) apart from employees (custom report), so a
/// pay change at the source touches only the employment.
async fn employment_edit_moves_parent_marker_only(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Bamboohr], 30).await else {
        return;
    };
    let id = h.connect(ToolKind::Bamboohr).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);

    let employee = {
        let mut company = h.sim.state.company_mut(ToolKind::Bamboohr);
        let (eid, e) = company
            .hris
            .employees
            .iter_mut()
            .find(|(_, e)| !e.employments.is_empty())
            .unwrap();
        let employment = e.employments.last_mut().unwrap();
        employment.pay_rate += 1234.0;
        employment.updated_at = chrono::Utc::now();
        *eid
    };
    let ids = IdGen::new(&id);
    let employee_id = ids.id(Model::Employees, &employee.to_string());
    let before = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .find(|r| r.id == employee_id)
        .unwrap();
    let (changed, updated) = moved(&h, &id, async {
        // A DELTA: a compensation change is one BambooHR reports through
        // `/v1/employees/changed`, and the employments stream is read whole.
        let run = h.sync(&id, SyncType::Delta).await;
        assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    })
    .await;
    let employments: Vec<_> = h
        .live(&id, Model::Employments)
        .await
        .into_iter()
        .filter(|r| changed.contains(&r.id))
        .collect();
    assert_eq!(employments.len(), 1, "one employment changed: {changed:?}");
    assert_eq!(employments[0].parent_id.as_deref(), Some(employee_id.as_str()));
    assert_eq!(changed.len(), 1, "nothing else changed: {changed:?}");
    let after = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .find(|r| r.id == employee_id)
        .unwrap();
    assert_eq!(
        after.changed_at, before.changed_at,
        "the employee's own content did not change"
    );
    assert!(after.updated_at > before.updated_at, "its updated_after marker moved");
    assert!(updated.contains(&employee_id));
}

/// A linked record (the manager) changing moves its reports' markers, not their changed_at.
async fn manager_edit_moves_reports_markers(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let (manager, reports): (u64, Vec<u64>) = {
        let c = h.sim.state.company(ToolKind::Personio);
        let manager = c.hris.employees.values().find_map(|e| e.supervisor_id).unwrap();
        let reports = c
            .hris
            .employees
            .values()
            .filter(|e| e.supervisor_id == Some(manager))
            .map(|e| e.id)
            .collect();
        (manager, reports)
    };
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": manager, "field": "first_name", "value": "Grace"}),
    );
    let (changed, updated) = moved(&h, &id, async {
        assert_eq!(h.sync(&id, SyncType::Delta).await.state, RunState::Succeeded);
    })
    .await;
    let ids = IdGen::new(&id);
    assert!(changed.contains(&ids.id(Model::Employees, &manager.to_string())));
    for r in reports {
        let rid = ids.id(Model::Employees, &r.to_string());
        assert!(!changed.contains(&rid), "a report's own content did not change");
        assert!(updated.contains(&rid), "a report's marker moved with its manager");
    }
}

/// What a consumer reading with `updated_after = mark` gets back, per model: every record
/// returned (`updated`) and those among them whose own content changed (`changed`; the rest
/// were only moved by a nested or linked change).
struct Seen {
    updated: BTreeMap<Model, BTreeSet<String>>,
    changed: BTreeMap<Model, BTreeSet<String>>,
}

impl Seen {
    fn updated(&self, model: Model) -> BTreeSet<String> {
        self.updated.get(&model).cloned().unwrap_or_default()
    }

    fn changed(&self, model: Model) -> BTreeSet<String> {
        self.changed.get(&model).cloned().unwrap_or_default()
    }
}

/// Runs a delta and reads every model with `updated_after` set to an instant taken just before
/// it, deleted records included, through the gateway's keyset reads.
async fn delta_seen(h: &Harness, integration: &str) -> Seen {
    let mark: Timestamp = chrono::Utc::now();
    let run = h.sync(integration, SyncType::Delta).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let mut seen = Seen {
        updated: BTreeMap::new(),
        changed: BTreeMap::new(),
    };
    for model in Model::ALL {
        let mut query = RecordQuery::new(integration, *model);
        query.updated_after = Some(mark);
        query.include_deleted = true;
        query.limit = 500;
        loop {
            let page = h.store.query_records(&query).await.expect("query");
            let done = (page.len() as i64) < query.limit;
            query.after_id = page.last().map(|r| r.id.clone());
            for r in page {
                assert!(r.updated_at > mark, "updated_after is strict");
                if r.changed_at > mark {
                    seen.changed.entry(*model).or_default().insert(r.id.clone());
                }
                seen.updated.entry(*model).or_default().insert(r.id);
            }
            if done {
                break;
            }
        }
    }
    seen
}

fn set<const N: usize>(ids: [String; N]) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// One Greenhouse pipeline built through the simulator's mutations and fully synced: a new job,
/// a candidate applying to it, the application advanced to the last stage (an interview for
/// every interview stage on the way, an offer at the last).
struct Pipeline {
    h: Harness,
    integration: String,
    job: u64,
    stages: Vec<u64>,
    candidate: u64,
    application: u64,
    interviews: Vec<u64>,
    offer: u64,
}

const GH: ToolKind = ToolKind::Greenhouse;

impl Pipeline {
    async fn start(b: Backend) -> Option<Pipeline> {
        let h = Harness::start(b, &[GH], 40).await?;
        let created = h.mutate(GH, json!({"kind": "new_job"}));
        let job = created.created_ids("job")[0];
        let stages = created.created_ids("stage");
        let applied = h.mutate(GH, json!({"kind": "new_candidate", "job_id": job}));
        let (candidate, application) = (
            applied.created_ids("candidate")[0],
            applied.created_ids("application")[0],
        );
        let mut interviews = Vec::new();
        let offer = loop {
            let step = h.mutate(
                GH,
                json!({"kind": "advance_application", "application_id": application}),
            );
            interviews.extend(step.created_ids("interview"));
            if let Some(offer) = step.created_ids("offer").first() {
                break *offer;
            }
        };
        assert!(interviews.len() >= 2, "every plan has at least two interview stages");
        // Built yesterday: a delta reads what changed since the last sync less a 5-minute
        // overlap, and it must re-read only what a test's mutation touches, so that records
        // moved through an edge are told apart from records that changed themselves.
        {
            let day = chrono::Duration::days(1);
            let mut company = h.sim.state.company_mut(GH);
            let ats = &mut company.ats;
            let j = ats.jobs.get_mut(&job).unwrap();
            (j.created_at, j.updated_at) = (j.created_at - day, j.updated_at - day);
            j.opened_at = j.opened_at.map(|t| t - day);
            for s in &mut j.stages {
                s.updated_at -= day;
            }
            let c = ats.candidates.get_mut(&candidate).unwrap();
            (c.created_at, c.updated_at, c.last_activity) =
                (c.created_at - day, c.updated_at - day, c.last_activity - day);
            let a = ats.applications.get_mut(&application).unwrap();
            (a.applied_at, a.updated_at, a.last_activity_at) =
                (a.applied_at - day, a.updated_at - day, a.last_activity_at - day);
            for i in &interviews {
                let i = ats.interviews.get_mut(i).unwrap();
                (i.created_at, i.updated_at) = (i.created_at - day, i.updated_at - day);
            }
            let o = ats.offers.get_mut(&offer).unwrap();
            (o.created_at, o.updated_at) = (o.created_at - day, o.updated_at - day);
        }
        let integration = h.connect(GH).await;
        assert_eq!(h.sync(&integration, SyncType::Full).await.state, RunState::Succeeded);
        Some(Pipeline {
            h,
            integration,
            job,
            stages,
            candidate,
            application,
            interviews,
            offer,
        })
    }

    fn id(&self, model: Model, remote_id: u64) -> String {
        IdGen::new(&self.integration).id(model, &remote_id.to_string())
    }

    fn interview_ids(&self) -> BTreeSet<String> {
        self.interviews.iter().map(|i| self.id(Model::Interviews, *i)).collect()
    }
}

/// /ats/applications: "interviews — added/removed yes, linked record yes"; /ats/candidates:
/// "applications → …" has no interviews, and bumps are one level deep.
async fn interview_change_moves_its_application_not_the_candidate(b: Backend) {
    let Some(p) = Pipeline::start(b).await else {
        return;
    };
    let interview = p.interviews[0];
    p.h.mutate(GH, json!({"kind": "reschedule_interview", "interview_id": interview}));
    let seen = delta_seen(&p.h, &p.integration).await;
    let application = p.id(Model::Applications, p.application);
    assert_eq!(
        seen.changed(Model::Interviews),
        set([p.id(Model::Interviews, interview)])
    );
    assert_eq!(
        seen.updated(Model::Interviews),
        set([p.id(Model::Interviews, interview)])
    );
    assert_eq!(
        seen.updated(Model::Applications),
        set([application]),
        "the interview's application moved"
    );
    assert!(
        seen.changed(Model::Applications).is_empty(),
        "its own content did not change"
    );
    for model in [Model::Candidates, Model::Jobs, Model::Offers, Model::ApplicationStages] {
        assert!(
            seen.updated(model).is_empty(),
            "{model:?} moved: {:?}",
            seen.updated(model)
        );
    }
}

/// /ats/candidates: "applications — linked record yes"; /ats/interviews and /ats/offers:
/// "application — linked record yes"; /ats/jobs lists no applications.
async fn application_change_moves_candidate_interviews_and_offers_not_the_job(b: Backend) {
    let Some(p) = Pipeline::start(b).await else {
        return;
    };
    p.h.mutate(
        GH,
        json!({"kind": "reject_application", "application_id": p.application}),
    );
    let seen = delta_seen(&p.h, &p.integration).await;
    let application = p.id(Model::Applications, p.application);
    let candidate = p.id(Model::Candidates, p.candidate);
    assert_eq!(seen.changed(Model::Applications), set([application]));
    assert_eq!(seen.updated(Model::Candidates), set([candidate]), "the candidate moved");
    assert!(
        seen.changed(Model::Candidates).is_empty(),
        "the delta did not re-read the candidate: only its marker moved"
    );
    assert_eq!(
        seen.updated(Model::Interviews),
        p.interview_ids(),
        "every interview of it moved"
    );
    assert_eq!(
        seen.updated(Model::Offers),
        set([p.id(Model::Offers, p.offer)]),
        "its offer moved"
    );
    assert!(seen.changed(Model::Interviews).is_empty() && seen.changed(Model::Offers).is_empty());
    assert!(seen.updated(Model::Jobs).is_empty(), "job: linked record no");
    assert!(seen.updated(Model::ApplicationStages).is_empty());
}

/// /ats/applications: "job — added/removed no, linked record no"; /ats/candidates:
/// "applications → job — no"; /ats/jobs' stages do not depend on the job.
async fn job_change_moves_no_application_or_candidate(b: Backend) {
    let Some(p) = Pipeline::start(b).await else {
        return;
    };
    p.h.mutate(GH, json!({"kind": "close_job", "job_id": p.job}));
    let seen = delta_seen(&p.h, &p.integration).await;
    assert_eq!(seen.changed(Model::Jobs), set([p.id(Model::Jobs, p.job)]));
    for model in [
        Model::Applications,
        Model::Candidates,
        Model::Interviews,
        Model::Offers,
        Model::ApplicationStages,
    ] {
        assert!(
            seen.updated(model).is_empty(),
            "{model:?} moved: {:?}",
            seen.updated(model)
        );
    }
}

/// /ats/applications: "candidate — linked record yes"; /ats/interviews and /ats/offers:
/// "application → candidate — no".
async fn candidate_edit_moves_its_applications_only(b: Backend) {
    let Some(p) = Pipeline::start(b).await else {
        return;
    };
    p.h.mutate(
        GH,
        json!({"kind": "edit_candidate", "candidate_id": p.candidate, "field": "title", "value": "Staff Engineer"}),
    );
    let seen = delta_seen(&p.h, &p.integration).await;
    assert_eq!(
        seen.changed(Model::Candidates),
        set([p.id(Model::Candidates, p.candidate)])
    );
    assert_eq!(
        seen.updated(Model::Applications),
        set([p.id(Model::Applications, p.application)])
    );
    assert!(
        seen.changed(Model::Applications).is_empty(),
        "the application's own content is unchanged"
    );
    for model in [Model::Interviews, Model::Offers, Model::Jobs, Model::ApplicationStages] {
        assert!(
            seen.updated(model).is_empty(),
            "{model:?} moved: {:?}",
            seen.updated(model)
        );
    }
}

/// /ats/applications: "current_stage — linked record yes"; /ats/candidates: "applications →
/// current_stage — no". /ats/jobs says "stages — linked record no", but a stage nests under its
/// job through a `parent` edge, which moves the job on every stage change: a documented
/// over-approximation (see `greenhouse::map::job_stage`), pinned here so a finer edge kind
/// shows up as a deliberate change.
async fn stage_rename_moves_applications_at_it_not_their_candidates(b: Backend) {
    let Some(p) = Pipeline::start(b).await else {
        return;
    };
    let last = *p.stages.last().unwrap();
    p.h.mutate(
        GH,
        json!({"kind": "rename_stage", "stage_id": last, "name": "Offer Call"}),
    );
    let seen = delta_seen(&p.h, &p.integration).await;
    assert_eq!(
        seen.changed(Model::ApplicationStages),
        set([p.id(Model::ApplicationStages, last)])
    );
    assert_eq!(
        seen.updated(Model::Applications),
        set([p.id(Model::Applications, p.application)]),
        "the application at that stage moved"
    );
    assert!(seen.changed(Model::Applications).is_empty());
    for model in [Model::Candidates, Model::Interviews, Model::Offers] {
        assert!(
            seen.updated(model).is_empty(),
            "{model:?} moved: {:?}",
            seen.updated(model)
        );
    }
    assert_eq!(
        seen.updated(Model::Jobs),
        set([p.id(Model::Jobs, p.job)]),
        "over-approximation: a stage change moves its job"
    );
    assert!(seen.changed(Model::Jobs).is_empty());
}

/// /hris/absences and /hris/time-off-balances: "type — linked record yes". Personio's delta
/// re-reads only time-offs and absence periods updated since the last sync, so the absences of the renamed type
/// move through their edge alone; balances are re-read whole and show the type's name, so
/// they change themselves. Absences and balances of other types do not move.
async fn absence_type_rename_moves_its_absences_and_balances(b: Backend) {
    const P: ToolKind = ToolKind::Personio;
    let Some(h) = Harness::start(b, &[P], 40).await else {
        return;
    };
    let integration = h.connect(P).await;
    assert_eq!(h.sync(&integration, SyncType::Full).await.state, RunState::Succeeded);
    let ids = IdGen::new(&integration);
    let (renamed, absences, balances) = {
        let c = h.sim.state.company(P);
        let mut by_type: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for a in c.hris.absences.values() {
            by_type.entry(a.absence_type_id).or_default().insert(ids.id(
                Model::Absences,
                &tributary_sim::tools::personio::absence_remote_id(&c, a),
            ));
        }
        let (renamed, absences) = by_type.into_iter().max_by_key(|(_, a)| a.len()).unwrap();
        let balances: BTreeSet<String> = c
            .hris
            .balances
            .keys()
            .filter(|(_, t)| *t == renamed)
            .map(|(e, t)| ids.id(Model::TimeOffBalances, &format!("{e}:{t}")))
            .collect();
        (renamed, absences, balances)
    };
    assert!(!absences.is_empty() && !balances.is_empty());
    h.mutate(
        P,
        json!({"kind": "rename_absence_type", "absence_type_id": renamed, "name": "Annual Leave"}),
    );
    let seen = delta_seen(&h, &integration).await;
    assert_eq!(
        seen.changed(Model::AbsenceTypes),
        set([ids.id(Model::AbsenceTypes, &renamed.to_string())])
    );
    assert_eq!(
        seen.updated(Model::Absences),
        absences,
        "exactly the absences of that type moved"
    );
    assert!(
        seen.changed(Model::Absences).is_empty(),
        "through the edge only: the delta did not re-read them"
    );
    assert_eq!(
        seen.updated(Model::TimeOffBalances),
        balances,
        "exactly the balances of that type moved"
    );
}

crate::on_both_backends!(
    one_edit_moves_one_record,
    employment_edit_moves_parent_marker_only,
    manager_edit_moves_reports_markers,
    interview_change_moves_its_application_not_the_candidate,
    application_change_moves_candidate_interviews_and_offers_not_the_job,
    job_change_moves_no_application_or_candidate,
    candidate_edit_moves_its_applications_only,
    stage_rename_moves_applications_at_it_not_their_candidates,
    absence_type_rename_moves_its_absences_and_balances
);
