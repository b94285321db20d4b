//! Case 3: every filter the catalog declares, with values that occur in the synced data,
//! against the set a predicate over the unfiltered list computes; then `ids`, `remote_ids`,
//! `updated_after` (after a mutation and a sync) and `include_deleted`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use tributary_model::{Model, RunState, SyncType, ToolKind};

use crate::gateway::{Api, ids, text};
use crate::support::Backend;

/// One model's unfiltered results, and the checks against them.
struct Subject<'a> {
    api: &'a Api,
    model: Model,
    integration: &'a str,
    all: Vec<Value>,
}

impl<'a> Subject<'a> {
    async fn new(api: &'a Api, model: Model, integration: &'a str) -> Subject<'a> {
        let all = api.all(model, integration, &[]).await;
        assert!(!all.is_empty(), "{model}: no data");
        Subject {
            api,
            model,
            integration,
            all,
        }
    }

    /// Calls with `query` and compares with the results `keep` selects; the expected count.
    async fn check(&self, query: &[(&str, &str)], keep: impl Fn(&Value) -> bool) -> usize {
        let expected: BTreeSet<String> = ids(&self.all.iter().filter(|r| keep(r)).cloned().collect::<Vec<_>>());
        let got = self.api.ids(self.model, self.integration, query).await;
        assert_eq!(
            got,
            expected,
            "{} {query:?}: got {} results, expected {}",
            self.model,
            got.len(),
            expected.len()
        );
        expected.len()
    }

    /// Like [`Self::check`], and the filter must select something but not everything, so the
    /// comparison shows the filter working.
    async fn selective(&self, query: &[(&str, &str)], keep: impl Fn(&Value) -> bool) {
        let n = self.check(query, keep).await;
        assert!(
            n > 0 && n < self.all.len(),
            "{} {query:?} selects {n} of {}",
            self.model,
            self.all.len()
        );
    }

    /// The distinct strings at `key` (nulls left out).
    fn values(&self, key: &str) -> Vec<String> {
        let set: BTreeSet<String> = self
            .all
            .iter()
            .filter_map(|r| text(r, key))
            .map(str::to_owned)
            .collect();
        set.into_iter().collect()
    }

    /// The most common string at `key`.
    fn most_common(&self, key: &str) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.all {
            if let Some(v) = text(r, key) {
                *counts.entry(v).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(v, _)| v.to_owned())
            .expect("some value")
    }

    fn median(&self, key: &str) -> String {
        let mut values: Vec<String> = self
            .all
            .iter()
            .filter_map(|r| text(r, key))
            .map(str::to_owned)
            .collect();
        values.sort();
        values[values.len() / 2].clone()
    }
}

fn eq_ci(value: Option<&str>, wanted: &str) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

/// A case-flipped variant (`Marketing` → `mARKETING`).
fn flip_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// A substring of `name` (chars 1..4), case-flipped.
fn infix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let end = chars.len().min(4);
    flip_case(&chars[1.min(end)..end].iter().collect::<String>())
}

fn contains_ci(value: Option<&str>, needle: &str) -> bool {
    value.is_some_and(|v| v.to_lowercase().contains(&needle.to_lowercase()))
}

fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(value, key).map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn employee_filters(api: &Api) {
    let s = Subject::new(api, Model::Employees, &api.personio).await;
    let statuses = s.values("employment_status");
    assert!(
        statuses.len() >= 2,
        "the company has one employment status only: {statuses:?}"
    );
    for status in &statuses {
        s.selective(&[("employment_statuses", status)], |r| {
            text(r, "employment_status") == Some(status)
        })
        .await;
        // The deprecated singular form.
        s.selective(&[("employment_status", status)], |r| {
            text(r, "employment_status") == Some(status)
        })
        .await;
    }
    let two = format!("{},{}", statuses[0], statuses[1]);
    s.selective(&[("employment_statuses", &two)], |r| {
        text(r, "employment_status").is_some_and(|v| v == statuses[0] || v == statuses[1])
    })
    .await;
    // Both given: both hold.
    s.selective(
        &[("employment_statuses", &two), ("employment_status", &statuses[1])],
        |r| text(r, "employment_status") == Some(statuses[1].as_str()),
    )
    .await;

    for (param, field) in [("work_emails", "work_email"), ("personal_emails", "personal_email")] {
        let emails = s.values(field);
        assert!(emails.len() >= 2, "{field}");
        let (a, b) = (&emails[0], &emails[emails.len() / 2]);
        let query = format!("{}, {}", a.to_uppercase(), flip_case(b));
        s.selective(&[(param, &query)], |r| {
            eq_ci(text(r, field), a) || eq_ci(text(r, field), b)
        })
        .await;
    }

    let group_of = |r: &Value| -> BTreeSet<String> {
        r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let groups: BTreeSet<String> = s.all.iter().flat_map(group_of).collect();
    let groups: Vec<String> = groups.into_iter().collect();
    assert!(groups.len() >= 2);
    s.selective(&[("group_ids", &groups[0])], |r| group_of(r).contains(&groups[0]))
        .await;
    let pair = format!("{},{}", groups[0], groups[1]);
    s.check(&[("group_ids", &pair)], |r| {
        let g = group_of(r);
        g.contains(&groups[0]) || g.contains(&groups[1])
    })
    .await;

    for (param, field) in [
        ("legal_entity_ids", "legal_entity_id"),
        ("work_location_ids", "work_location_id"),
    ] {
        let values = s.values(field);
        assert!(values.len() >= 2, "{field}: {values:?}");
        for value in &values {
            s.selective(&[(param, value)], |r| text(r, field) == Some(value)).await;
        }
    }

    // custom_fields: a string value that occurs.
    let (key, value) = s
        .all
        .iter()
        .find_map(|r| {
            r["custom_fields"]
                .as_object()
                .and_then(|m| m.iter().find(|(_, v)| v.is_string()))
                .map(|(k, v)| (k.clone(), v.clone()))
        })
        .expect("an employee with a custom field");
    let filter = json!({ key.clone(): value.clone() }).to_string();
    s.selective(&[("custom_fields", &filter)], |r| {
        r["custom_fields"].get(&key) == Some(&value)
    })
    .await;

    // And `null` on BambooHR, whose employees all carry every custom field key, some empty.
    let bamboo = Subject::new(api, Model::Employees, &api.bamboohr).await;
    let key = bamboo.all[0]["custom_fields"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| {
            let nulls = bamboo
                .all
                .iter()
                .filter(|r| r["custom_fields"][k.as_str()].is_null())
                .count();
            nulls > 0 && nulls < bamboo.all.len()
        })
        .expect("a custom field some employees leave empty")
        .clone();
    let filter = json!({ key.clone(): null }).to_string();
    bamboo
        .selective(&[("custom_fields", &filter)], |r| {
            r["custom_fields"][key.as_str()].is_null()
        })
        .await;
}

async fn org_filters(api: &Api) {
    for integration in [&api.personio, &api.bamboohr] {
        let groups = Subject::new(api, Model::Groups, integration).await;
        for t in ["DEPARTMENT", "TEAM", "COST_CENTER"] {
            groups.check(&[("types", t)], |r| text(r, "type") == Some(t)).await;
        }
        groups.check(&[("types", "null")], |r| r["type"].is_null()).await;
        groups
            .check(&[("types", "TEAM,null")], |r| {
                r["type"].is_null() || text(r, "type") == Some("TEAM")
            })
            .await;
        groups
            .check(&[("types", "DEPARTMENT,TEAM,COST_CENTER,null")], |_| true)
            .await;
        let needle = infix(&groups.values("name")[0]);
        groups
            .check(&[("name_contains", &needle)], |r| contains_ci(text(r, "name"), &needle))
            .await;
        groups
            .selective(&[("types", "DEPARTMENT"), ("name_contains", &needle)], |r| {
                text(r, "type") == Some("DEPARTMENT") && contains_ci(text(r, "name"), &needle)
            })
            .await;

        for model in [Model::Locations, Model::LegalEntities] {
            let s = Subject::new(api, model, integration).await;
            for name in s.values("name") {
                let needle = infix(&name);
                let n = s
                    .check(&[("name_contains", &needle)], |r| contains_ci(text(r, "name"), &needle))
                    .await;
                assert!(n >= 1, "{model}: {needle} of {name}");
            }
        }
    }
}

async fn absence_filters(api: &Api) {
    let s = Subject::new(api, Model::Absences, &api.personio).await;
    let types = s.values("type_id");
    assert!(types.len() >= 2);
    for t in &types {
        s.selective(&[("type_ids", t)], |r| text(r, "type_id") == Some(t)).await;
    }
    let pair = format!("{},{}", types[0], types[1]);
    s.selective(&[("type_ids", &pair)], |r| {
        text(r, "type_id").is_some_and(|t| t == types[0] || t == types[1])
    })
    .await;
    let employee = s.most_common("employee_id");
    s.selective(&[("employee_id", &employee)], |r| {
        text(r, "employee_id") == Some(&employee)
    })
    .await;

    // Calendar semantics on plain days (stored as `YYYY-MM-DD`).
    let from = s.median("end_date");
    let until = s.median("start_date");
    let not_ended = |r: &Value, day: &str| {
        text(r, "end_date").is_none_or(|end| end >= day) || text(r, "start_date").is_some_and(|start| start >= day)
    };
    let started = |r: &Value, day: &str| text(r, "start_date").is_some_and(|start| start <= day);
    s.selective(&[("date_from", &from)], |r| not_ended(r, &from)).await;
    s.selective(&[("date_until", &until)], |r| started(r, &until)).await;
    s.check(&[("date_from", &from), ("date_until", &until)], |r| {
        not_ended(r, &from) && started(r, &until)
    })
    .await;
    // Times are cut to their day: late on the day, or an offset, changes nothing.
    let late_from = format!("{from}T23:59:59.999Z");
    s.selective(&[("date_from", &late_from)], |r| not_ended(r, &from)).await;
    let late_until = format!("{until}T23:59:59Z");
    s.selective(&[("date_until", &late_until)], |r| started(r, &until))
        .await;
    // The deprecated time_from/time_until read the same way.
    s.selective(&[("time_from", &late_from)], |r| not_ended(r, &from)).await;
    s.selective(&[("time_until", &late_until)], |r| started(r, &until))
        .await;

    let balances = Subject::new(api, Model::TimeOffBalances, &api.personio).await;
    let employee = balances.most_common("employee_id");
    balances
        .selective(&[("employee_id", &employee)], |r| {
            text(r, "employee_id") == Some(&employee)
        })
        .await;
}

async fn ats_filters(api: &Api) {
    let gh = api.greenhouse.as_str();
    let jobs = Subject::new(api, Model::Jobs, gh).await;
    let statuses = jobs.values("status");
    assert!(statuses.len() >= 2, "job statuses: {statuses:?}");
    for status in ["OPEN", "CLOSED", "DRAFT", "ARCHIVED"] {
        jobs.check(&[("statuses", status)], |r| text(r, "status") == Some(status))
            .await;
        jobs.check(&[("status", status)], |r| text(r, "status") == Some(status))
            .await;
    }
    let pair = format!("{},{}", statuses[0], statuses[1]);
    jobs.check(&[("statuses", &pair)], |r| {
        text(r, "status").is_some_and(|s| s == statuses[0] || s == statuses[1])
    })
    .await;
    let codes = jobs.values("job_code");
    let pair = format!("{},{}", codes[0], codes[codes.len() - 1]);
    jobs.selective(&[("job_codes", &pair)], |r| {
        text(r, "job_code").is_some_and(|c| c == codes[0] || c == codes[codes.len() - 1])
    })
    .await;
    for t in ["FULL_TIME", "PART_TIME", "CONTRACT", "SEASONAL", "INTERNSHIP"] {
        jobs.check(&[("employment_types", t)], |r| text(r, "employment_type") == Some(t))
            .await;
    }
    for v in ["PUBLIC", "INTERNAL", "UNLISTED", "CONFIDENTIAL"] {
        jobs.check(&[("visibilities", v)], |r| text(r, "visibility") == Some(v))
            .await;
    }
    let needle = infix(&jobs.values("name")[0]);
    jobs.check(&[("name_contains", &needle)], |r| contains_ci(text(r, "name"), &needle))
        .await;
    let url = jobs
        .values("post_url")
        .first()
        .cloned()
        .unwrap_or_else(|| "https://jobs.example/none".into());
    jobs.check(&[("post_url", &url)], |r| text(r, "post_url") == Some(url.as_str()))
        .await;
    remote_created_after(&jobs).await;

    let applications = Subject::new(api, Model::Applications, gh).await;
    let app_by_id: BTreeMap<String, Value> = applications
        .all
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a.clone()))
        .collect();
    let outcomes = applications.values("outcome");
    assert!(outcomes.len() >= 2, "outcomes {outcomes:?}");
    for outcome in &outcomes {
        applications
            .selective(&[("outcomes", outcome)], |r| text(r, "outcome") == Some(outcome))
            .await;
        applications
            .selective(&[("outcome", outcome)], |r| text(r, "outcome") == Some(outcome))
            .await;
    }
    let job = applications.most_common("job_id");
    applications
        .selective(&[("job_ids", &job)], |r| text(r, "job_id") == Some(&job))
        .await;
    let job_remote = jobs.all.iter().find(|j| j["id"] == job.as_str()).unwrap()["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = format!("{job_remote},999999999");
    applications
        .selective(&[("job_remote_ids", &query)], |r| text(r, "job_id") == Some(&job))
        .await;
    let stage = applications.most_common("current_stage_id");
    applications
        .selective(&[("current_stage_ids", &stage)], |r| {
            text(r, "current_stage_id") == Some(&stage)
        })
        .await;
    remote_created_after(&applications).await;

    let candidates = Subject::new(api, Model::Candidates, gh).await;
    let emails_of = |r: &Value| -> Vec<String> {
        r["email_addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| text(e, "email_address"))
            .map(str::to_owned)
            .collect()
    };
    let email = candidates
        .all
        .iter()
        .flat_map(emails_of)
        .nth(3)
        .expect("a candidate email");
    candidates
        .selective(&[("email", &email.to_uppercase())], |r| {
            emails_of(r).iter().any(|e| e.eq_ignore_ascii_case(&email))
        })
        .await;
    for (param, field) in [("first_name", "first_name"), ("last_name", "last_name")] {
        let name = candidates.most_common(field);
        candidates
            .selective(&[(param, &flip_case(&name))], |r| eq_ci(text(r, field), &name))
            .await;
    }
    let applied_to = |r: &Value, job: &str| {
        app_by_id
            .values()
            .any(|a| a["candidate_id"] == r["id"] && text(a, "job_id") == Some(job))
    };
    candidates
        .selective(&[("job_ids", &job)], |r| applied_to(r, &job))
        .await;

    let users = Subject::new(api, Model::Users, gh).await;
    let emails = users.values("email");
    let query = format!("{},{}", emails[0].to_uppercase(), emails[1]);
    users
        .selective(&[("emails", &query)], |r| {
            eq_ci(text(r, "email"), &emails[0]) || eq_ci(text(r, "email"), &emails[1])
        })
        .await;

    let interviews = Subject::new(api, Model::Interviews, gh).await;
    let job_of = |r: &Value| {
        text(r, "application_id")
            .and_then(|a| app_by_id.get(a))
            .and_then(|a| text(a, "job_id"))
            .map(str::to_owned)
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in &interviews.all {
        *counts.entry(job_of(i).unwrap()).or_default() += 1;
    }
    let busiest = counts.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    interviews
        .selective(&[("job_ids", &busiest)], |r| job_of(r).as_deref() == Some(&busiest))
        .await;
}

/// `remote_created_after`: "created on or after a certain day" (Kombo's description), so a
/// time on that day still admits records created earlier that day.
async fn remote_created_after(s: &Subject<'_>) {
    let mut times: Vec<DateTime<Utc>> = s.all.iter().filter_map(|r| time(r, "remote_created_at")).collect();
    times.sort();
    let median = times[times.len() / 2];
    let day = median.date_naive();
    let on_or_after_day = |r: &Value| time(r, "remote_created_at").is_some_and(|t| t.date_naive() >= day);
    s.selective(
        &[("remote_created_after", &day.format("%Y-%m-%d").to_string())],
        on_or_after_day,
    )
    .await;
    s.selective(&[("remote_created_after", &rfc3339(median))], on_or_after_day)
        .await;
}

async fn ids_and_remote_ids(api: &Api) {
    for model in [
        Model::Employees,
        Model::Absences,
        Model::Candidates,
        Model::Applications,
    ] {
        let s = Subject::new(api, model, api.integration_for(model)).await;
        let picked: Vec<&Value> = s.all.iter().step_by(s.all.len() / 3).take(3).collect();
        let wanted: BTreeSet<&str> = picked.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let query = format!("{},unknownid123", wanted.iter().copied().collect::<Vec<_>>().join(","));
        assert_eq!(
            s.check(&[("ids", &query)], |r| wanted.contains(r["id"].as_str().unwrap()))
                .await,
            3
        );
        let remote: BTreeSet<&str> = picked
            .iter()
            .take(2)
            .map(|r| r["remote_id"].as_str().unwrap())
            .collect();
        let query = remote.iter().copied().collect::<Vec<_>>().join(",");
        assert_eq!(
            s.check(&[("remote_ids", &query)], |r| remote
                .contains(r["remote_id"].as_str().unwrap()))
                .await,
            2
        );
    }
}

/// Remote id (as the simulator's number) of a result.
fn remote_number(r: &Value) -> u64 {
    r["remote_id"].as_str().unwrap().parse().unwrap()
}

async fn updated_after_and_deletions(api: &Api) {
    let pid = api.personio.as_str();
    let employees = api.all(Model::Employees, pid, &[]).await;
    // Employees nobody reports to, so a change to them moves no one else's `updated_after`.
    let managers: BTreeSet<&str> = employees.iter().filter_map(|e| text(e, "manager_id")).collect();
    let leaves: Vec<&Value> = employees
        .iter()
        .filter(|e| !managers.contains(e["id"].as_str().unwrap()) && text(e, "employment_status") == Some("ACTIVE"))
        .collect();
    assert!(leaves.len() >= 3);
    let (edited, promoted, deleted) = (leaves[0], leaves[1], leaves[2]);

    let before = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": remote_number(edited), "field": "mobile_phone", "value": "+49 170 0000001"}),
    );
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "change_employment", "employee_id": remote_number(promoted), "pay_rate": 123456.0}),
    );
    assert_eq!(api.h.sync(pid, SyncType::Delta).await.state, RunState::Succeeded);
    let since = rfc3339(before);
    let changed = api.ids(Model::Employees, pid, &[("updated_after", &since)]).await;
    let expected: BTreeSet<String> = [edited, promoted]
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        changed, expected,
        "updated_after: the edited employee and the one whose employment changed"
    );
    let employments = api.all(Model::Employments, pid, &[("updated_after", &since)]).await;
    assert_eq!(employments.len(), 1, "{employments:#?}");
    assert_eq!(employments[0]["employee_id"], promoted["id"]);
    assert_eq!(employments[0]["pay_rate"], 123456.0);
    let edited_now = api
        .all(Model::Employees, pid, &[("ids", edited["id"].as_str().unwrap())])
        .await;
    assert_eq!(edited_now[0]["mobile_phone_number"], "+49 170 0000001");
    // Nothing else moved, on any model.
    for &model in Model::ALL
        .iter()
        .filter(|m| m.category() == tributary_model::Category::Hris)
    {
        if ![Model::Employees, Model::Employments].contains(&model) {
            let moved = api.ids(model, pid, &[("updated_after", &since)]).await;
            assert!(moved.is_empty(), "{model} moved: {moved:?}");
        }
    }
    // A later instant: nothing.
    let later = rfc3339(Utc::now() + Duration::seconds(1));
    assert!(
        api.ids(Model::Employees, pid, &[("updated_after", &later)])
            .await
            .is_empty()
    );

    // BambooHR the same way, through its DELTA (the employees `/v1/employees/changed` names).
    let bid = api.bamboohr.as_str();
    let bamboo = api.all(Model::Employees, bid, &[]).await;
    let target = &bamboo[bamboo.len() / 2];
    let before = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.h.mutate(
        ToolKind::Bamboohr,
        json!({"kind": "edit_employee", "employee_id": remote_number(target), "field": "mobile_phone", "value": "+1 555 0100"}),
    );
    assert_eq!(api.h.sync(bid, SyncType::Delta).await.state, RunState::Succeeded);
    let changed = api
        .ids(Model::Employees, bid, &[("updated_after", &rfc3339(before))])
        .await;
    assert_eq!(changed, BTreeSet::from([target["id"].as_str().unwrap().to_owned()]));

    // Linked records (Kombo's tables under `updated_after`): a renamed absence type brings
    // back its absences and balances ("type: Linked Record ✓").
    let types = api.all(Model::AbsenceTypes, pid, &[]).await;
    let renamed = &types[0];
    let absences = api.all(Model::Absences, pid, &[]).await;
    let balances = api.all(Model::TimeOffBalances, pid, &[]).await;
    let of_type = |list: &[Value]| -> BTreeSet<String> {
        list.iter()
            .filter(|r| r["type_id"] == renamed["id"])
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "rename_absence_type", "absence_type_id": remote_number(renamed), "name": "Renamed leave"}),
    );
    assert_eq!(api.h.sync(pid, SyncType::Delta).await.state, RunState::Succeeded);
    let since = rfc3339(before);
    assert_eq!(
        api.ids(Model::AbsenceTypes, pid, &[("updated_after", &since)]).await,
        BTreeSet::from([renamed["id"].as_str().unwrap().to_owned()])
    );
    let moved = api.all(Model::Absences, pid, &[("updated_after", &since)]).await;
    assert!(!of_type(&absences).is_empty());
    assert_eq!(ids(&moved), of_type(&absences), "absences of the renamed type");
    assert!(moved.iter().all(|a| a["type"]["name"] == "Renamed leave"));
    assert_eq!(
        api.ids(Model::TimeOffBalances, pid, &[("updated_after", &since)]).await,
        of_type(&balances),
        "balances of the renamed type"
    );

    // On Greenhouse: a rescheduled interview brings back its application ("interviews:
    // Linked Record ✓"), and nothing else of the interviews.
    let gh = api.greenhouse.as_str();
    let interviews = api.all(Model::Interviews, gh, &[]).await;
    let interview = &interviews[interviews.len() / 2];
    let before = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "reschedule_interview", "interview_id": remote_number(interview)}),
    );
    assert_eq!(api.h.sync(gh, SyncType::Delta).await.state, RunState::Succeeded);
    let since = rfc3339(before);
    let moved = api.all(Model::Interviews, gh, &[("updated_after", &since)]).await;
    assert_eq!(
        ids(&moved),
        BTreeSet::from([interview["id"].as_str().unwrap().to_owned()])
    );
    assert_ne!(moved[0]["starting_at"], interview["starting_at"], "the interview moved");
    assert_eq!(
        api.ids(Model::Applications, gh, &[("updated_after", &since)]).await,
        BTreeSet::from([interview["application_id"].as_str().unwrap().to_owned()])
    );
    for model in [
        Model::Jobs,
        Model::Users,
        Model::Tags,
        Model::ApplicationStages,
        Model::RejectionReasons,
    ] {
        assert!(
            api.ids(model, gh, &[("updated_after", &since)]).await.is_empty(),
            "{model} moved"
        );
    }

    // include_deleted: an employee and a candidate removed in the tools.
    let before = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "delete_employee", "employee_id": remote_number(deleted)}),
    );
    assert_eq!(api.h.sync(pid, SyncType::Full).await.state, RunState::Succeeded);
    let gone = deleted["id"].as_str().unwrap();
    deleted_only_with_include_deleted(api, Model::Employees, pid, gone).await;
    // A consumer polling with updated_after learns of the deletion only with include_deleted.
    let since = rfc3339(before);
    assert!(
        api.ids(
            Model::Employees,
            pid,
            &[("updated_after", &since), ("include_deleted", "true")]
        )
        .await
        .contains(gone)
    );
    assert!(
        !api.ids(Model::Employees, pid, &[("updated_after", &since)])
            .await
            .contains(gone)
    );
    // Its employments went with it; nested under it they show as deleted.
    let shown = api
        .all(Model::Employees, pid, &[("ids", gone), ("include_deleted", "true")])
        .await;
    let nested = shown[0]["employments"].as_array().unwrap();
    assert!(
        !nested.is_empty(),
        "a deleted employee's employments are nested with include_deleted"
    );
    assert!(nested.iter().all(|e| e["remote_deleted_at"].is_string()), "{nested:#?}");
    let live_employments = api.all(Model::Employments, pid, &[]).await;
    assert!(live_employments.iter().all(|e| e["employee_id"] != gone));

    let gh = api.greenhouse.as_str();
    let candidates = api.all(Model::Candidates, gh, &[]).await;
    let candidate = &candidates[candidates.len() / 3];
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "delete_candidate", "candidate_id": remote_number(candidate)}),
    );
    assert_eq!(api.h.sync(gh, SyncType::Full).await.state, RunState::Succeeded);
    let gone = candidate["id"].as_str().unwrap();
    deleted_only_with_include_deleted(api, Model::Candidates, gh, gone).await;
    // Its applications went with it: hidden by default, shown deleted with include_deleted,
    // and nested under the deleted candidate only then.
    let applied: BTreeSet<String> = candidate["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!applied.is_empty());
    let live = api.ids(Model::Applications, gh, &[]).await;
    assert!(
        applied.iter().all(|a| !live.contains(a)),
        "applications of a deleted candidate are listed"
    );
    let all = api.by_id(Model::Applications, gh, &[("include_deleted", "true")]).await;
    for a in &applied {
        assert!(all[a]["remote_deleted_at"].is_string(), "{:#}", all[a]);
    }
    let shown = api
        .all(Model::Candidates, gh, &[("ids", gone), ("include_deleted", "true")])
        .await;
    let nested: BTreeSet<String> = shown[0]["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(nested, applied);
}

async fn deleted_only_with_include_deleted(api: &Api, model: Model, integration: &str, id: &str) {
    let live = api.ids(model, integration, &[]).await;
    assert!(!live.contains(id), "{model} {id} is listed after its deletion");
    assert!(api.ids(model, integration, &[("ids", id)]).await.is_empty());
    let with = api.by_id(model, integration, &[("include_deleted", "true")]).await;
    let record = with
        .get(id)
        .unwrap_or_else(|| panic!("{model} {id} missing with include_deleted"));
    assert!(record["remote_deleted_at"].is_string(), "{record:#}");
    assert_eq!(
        with.len(),
        live.len() + 1,
        "{model}: only the one deleted record is added"
    );
    assert!(
        with.values()
            .filter(|r| r["id"] != id)
            .all(|r| r["remote_deleted_at"].is_null())
    );
    let explicit = api.ids(model, integration, &[("include_deleted", "false")]).await;
    assert_eq!(explicit, live);
}

async fn every_declared_filter_selects_what_it_says(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    employee_filters(&api).await;
    org_filters(&api).await;
    absence_filters(&api).await;
    ats_filters(&api).await;
    ids_and_remote_ids(&api).await;
    updated_after_and_deletions(&api).await;
}

crate::on_both_backends!(every_declared_filter_selects_what_it_says);
