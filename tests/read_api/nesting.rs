//! Case 2: nested objects are resolved and agree with the other endpoints' lists (and, for
//! links the wire does not show, with the mirror's stored references).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tributary_model::Model;

use crate::gateway::{Api, text};
use crate::support::Backend;

type ById = BTreeMap<String, Value>;

/// The ids of the objects in the array `value[key]`.
fn nested_ids(value: &Value, key: &str) -> BTreeSet<String> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array: {value:#}"))
        .iter()
        .map(|v| v["id"].as_str().expect("nested objects have ids").to_owned())
        .collect()
}

/// Ids of `list` whose `field` is `id`.
fn ids_where(list: &ById, field: &str, id: &str) -> BTreeSet<String> {
    list.iter()
        .filter(|(_, r)| text(r, field) == Some(id))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The stored `data[field]` of every record of `model`, by id (for links the wire omits).
async fn stored(api: &Api, integration: &str, model: Model, field: &str) -> BTreeMap<String, Value> {
    api.h
        .live(integration, model)
        .await
        .into_iter()
        .map(|r| (r.id, r.data.get(field).cloned().unwrap_or(Value::Null)))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// `nested` is `list[nested.id]` as far as `keys` go; `None` when the reference is null.
#[track_caller]
fn same_as_listed(nested: &Value, reference: &Value, list: &ById, keys: &[&str], what: &str) {
    match reference.as_str() {
        None => assert!(nested.is_null(), "{what}: no reference but a nested object {nested:#}"),
        Some(id) => {
            assert_eq!(nested["id"], id, "{what}: nested id differs from its reference");
            let listed = list.get(id).unwrap_or_else(|| panic!("{what}: {id} is not listed"));
            for key in keys {
                assert_eq!(nested[key], listed[key], "{what}: `{key}` of {id}");
            }
        }
    }
}

async fn hris_nesting(api: &Api, integration: &str) {
    let employees = api.by_id(Model::Employees, integration, &[]).await;
    let employments = api.by_id(Model::Employments, integration, &[]).await;
    let balances = api.by_id(Model::TimeOffBalances, integration, &[]).await;
    let groups = api.by_id(Model::Groups, integration, &[]).await;
    let entities = api.by_id(Model::LegalEntities, integration, &[]).await;
    let locations = api.by_id(Model::Locations, integration, &[]).await;
    let types = api.by_id(Model::AbsenceTypes, integration, &[]).await;
    let absences = api.by_id(Model::Absences, integration, &[]).await;
    let group_ids = stored(api, integration, Model::Employees, "group_ids").await;

    let (mut managed, mut grouped, mut located) = (0, 0, 0);
    for (id, e) in &employees {
        let what = format!("{integration} employee {id}");
        for nested in e["employments"].as_array().unwrap() {
            assert_eq!(nested["employee_id"], id.as_str(), "{what}: a foreign employment");
        }
        assert_eq!(
            nested_ids(e, "employments"),
            ids_where(&employments, "employee_id", id),
            "{what}"
        );
        assert_eq!(
            nested_ids(e, "time_off_balances"),
            ids_where(&balances, "employee_id", id),
            "{what}"
        );
        same_as_listed(
            &e["manager"],
            &e["manager_id"],
            &employees,
            &["first_name", "last_name", "work_email"],
            &what,
        );
        managed += usize::from(!e["manager"].is_null());
        assert_eq!(e["groups"], e["teams"], "{what}: teams repeats groups");
        let listed: Vec<String> = e["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed,
            strings(&group_ids[id]),
            "{what}: groups are the stored group_ids, in order"
        );
        for g in e["groups"].as_array().unwrap() {
            same_as_listed(g, &g["id"], &groups, &["name", "type", "remote_id"], &what);
        }
        grouped += usize::from(!listed.is_empty());
        same_as_listed(
            &e["legal_entity"],
            &e["legal_entity_id"],
            &entities,
            &["name", "remote_id"],
            &what,
        );
        same_as_listed(
            &e["work_location"],
            &e["work_location_id"],
            &locations,
            &["name", "remote_id"],
            &what,
        );
        located += usize::from(!e["work_location"].is_null() && !e["legal_entity"].is_null());
    }
    assert!(
        managed > 0 && grouped > 0 && located > 0,
        "{integration}: nothing nested ({managed}, {grouped}, {located})"
    );
    // Every employment and balance is nested under exactly one employee.
    let nested_employments: usize = employees
        .values()
        .map(|e| e["employments"].as_array().unwrap().len())
        .sum();
    assert_eq!(nested_employments, employments.len(), "{integration}");

    for (kind, list) in [("absence", &absences), ("time-off balance", &balances)] {
        assert!(!list.is_empty());
        for (id, r) in list {
            same_as_listed(
                &r["type"],
                &r["type_id"],
                &types,
                &["name", "unit", "remote_id"],
                &format!("{kind} {id}"),
            );
            assert!(!r["type"].is_null(), "{kind} {id} has no type");
        }
    }
}

async fn ats_nesting(api: &Api) {
    let gh = api.greenhouse.as_str();
    let jobs = api.by_id(Model::Jobs, gh, &[]).await;
    let candidates = api.by_id(Model::Candidates, gh, &[]).await;
    let applications = api.by_id(Model::Applications, gh, &[]).await;
    let stages = api.by_id(Model::ApplicationStages, gh, &[]).await;
    let users = api.by_id(Model::Users, gh, &[]).await;
    let tags = api.by_id(Model::Tags, gh, &[]).await;
    let interviews = api.by_id(Model::Interviews, gh, &[]).await;
    let offers = api.by_id(Model::Offers, gh, &[]).await;

    // Jobs: their stages are the application stages stored under them; their hiring team is
    // the stored members, as users with the member's roles.
    let stage_parents: BTreeMap<String, Option<String>> = api
        .h
        .live(gh, Model::ApplicationStages)
        .await
        .into_iter()
        .map(|r| (r.id, r.parent_id))
        .collect();
    let members = stored(api, gh, Model::Jobs, "hiring_team_members").await;
    let mut teams = 0;
    for (id, job) in &jobs {
        let expected: BTreeSet<String> = stage_parents
            .iter()
            .filter(|(_, parent)| parent.as_deref() == Some(id.as_str()))
            .map(|(s, _)| s.clone())
            .collect();
        assert!(!expected.is_empty(), "job {id} has no stages");
        assert_eq!(nested_ids(job, "stages"), expected, "job {id}: stages");
        for s in job["stages"].as_array().unwrap() {
            same_as_listed(s, &s["id"], &stages, &["name", "remote_id"], &format!("job {id} stage"));
        }
        let team = job["hiring_team"].as_array().unwrap();
        let stored_members = members[id].as_array().cloned().unwrap_or_default();
        assert_eq!(team.len(), stored_members.len(), "job {id}: hiring team");
        for (user, member) in team.iter().zip(&stored_members) {
            same_as_listed(
                user,
                &member["user_id"],
                &users,
                &["email", "first_name", "last_name"],
                &format!("job {id} hiring team"),
            );
            let roles = user["hiring_team_roles"].as_array().expect("hiring_team_roles");
            assert!(!roles.is_empty(), "job {id}: a team member without roles");
            for (key, value) in member.as_object().unwrap() {
                if key != "user_id" {
                    assert_eq!(&user[key], value, "job {id}: member's `{key}`");
                }
            }
        }
        teams += usize::from(!team.is_empty());
    }
    assert!(teams > 0, "no job has a hiring team");

    // Candidates: their applications (as /ats/applications has them) and tags.
    let tag_ids = stored(api, gh, Model::Candidates, "tag_ids").await;
    let mut tagged = 0;
    for (id, c) in &candidates {
        let what = format!("candidate {id}");
        assert_eq!(
            nested_ids(c, "applications"),
            ids_where(&applications, "candidate_id", id),
            "{what}"
        );
        for a in c["applications"].as_array().unwrap() {
            let listed = &applications[a["id"].as_str().unwrap()];
            assert_eq!(a["job"]["id"], listed["job_id"], "{what}: application job");
            assert_eq!(
                a["current_stage"]["id"], listed["current_stage_id"],
                "{what}: application stage"
            );
            assert_eq!(a["outcome"], listed["outcome"], "{what}");
            assert_eq!(
                a["job"]["name"],
                jobs[listed["job_id"].as_str().unwrap()]["name"],
                "{what}"
            );
        }
        let listed_tags: Vec<String> = c["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed_tags,
            strings(&tag_ids[id]),
            "{what}: tags are the stored tag_ids"
        );
        for t in c["tags"].as_array().unwrap() {
            same_as_listed(t, &t["id"], &tags, &["name", "remote_id"], &what);
        }
        tagged += usize::from(!listed_tags.is_empty());
    }
    assert!(tagged > 0, "no candidate has tags");
    let nested_applications: usize = candidates
        .values()
        .map(|c| c["applications"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        nested_applications,
        applications.len(),
        "every application under exactly one candidate"
    );

    // Applications: candidate, job, stage, and the interviews and offers that name them.
    let (mut interviewed, mut offered) = (0, 0);
    for (id, a) in &applications {
        let what = format!("application {id}");
        same_as_listed(
            &a["candidate"],
            &a["candidate_id"],
            &candidates,
            &["first_name", "last_name", "email_addresses"],
            &what,
        );
        assert_eq!(
            nested_ids(&a["candidate"], "tags"),
            nested_ids(&candidates[a["candidate_id"].as_str().unwrap()], "tags"),
            "{what}: candidate tags"
        );
        same_as_listed(&a["job"], &a["job_id"], &jobs, &["name", "remote_id"], &what);
        same_as_listed(
            &a["current_stage"],
            &a["current_stage_id"],
            &stages,
            &["name", "remote_id"],
            &what,
        );
        let expected_interviews = ids_where(&interviews, "application_id", id);
        assert_eq!(nested_ids(a, "interviews"), expected_interviews, "{what}: interviews");
        let expected_offers = ids_where(&offers, "application_id", id);
        assert_eq!(nested_ids(a, "offers"), expected_offers, "{what}: offers");
        for i in a["interviews"].as_array().unwrap() {
            same_as_listed(i, &i["id"], &interviews, &["title", "starting_at", "ending_at"], &what);
        }
        for o in a["offers"].as_array().unwrap() {
            same_as_listed(o, &o["id"], &offers, &["status", "remote_id"], &what);
        }
        interviewed += usize::from(!expected_interviews.is_empty());
        offered += usize::from(!expected_offers.is_empty());
    }
    assert!(
        interviewed > 0 && offered > 0,
        "interviews {interviewed}, offers {offered}"
    );

    // Interviews and offers: their application, with its candidate and job.
    let user_ids = stored(api, gh, Model::Interviews, "user_ids").await;
    let mut with_users = 0;
    for (kind, list) in [("interview", &interviews), ("offer", &offers)] {
        for (id, r) in list {
            let what = format!("{kind} {id}");
            // Kombo's offer shows its application as candidate and job only, without an id.
            if kind == "interview" {
                same_as_listed(
                    &r["application"],
                    &r["application_id"],
                    &applications,
                    &["remote_id", "outcome"],
                    &what,
                );
            } else {
                assert!(
                    r["application"].get("id").is_none(),
                    "{what}: the schema has no application id"
                );
            }
            let application = &applications[r["application_id"].as_str().unwrap()];
            assert_eq!(
                r["application"]["candidate"]["id"], application["candidate_id"],
                "{what}"
            );
            assert_eq!(r["application"]["job"]["id"], application["job_id"], "{what}");
            same_as_listed(
                &r["application"]["candidate"],
                &application["candidate_id"],
                &candidates,
                &["first_name", "last_name"],
                &what,
            );
            same_as_listed(
                &r["application"]["job"],
                &application["job_id"],
                &jobs,
                &["name"],
                &what,
            );
            if kind == "interview" {
                let listed: Vec<String> = r["users"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["id"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(listed, strings(&user_ids[id]), "{what}: users are the stored user_ids");
                for u in r["users"].as_array().unwrap() {
                    same_as_listed(u, &u["id"], &users, &["email", "first_name"], &what);
                }
                with_users += usize::from(!listed.is_empty());
            }
        }
    }
    assert!(with_users > 0, "no interview has users");
}

async fn nested_objects_agree_with_the_lists(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    hris_nesting(&api, &api.personio).await;
    hris_nesting(&api, &api.bamboohr).await;
    ats_nesting(&api).await;
}

crate::on_both_backends!(nested_objects_agree_with_the_lists);
