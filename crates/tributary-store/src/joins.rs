//! Kombo's join tables (`hris_join_employees_teams`, `ats_join_candidates_tags`, ...), which
//! `data-changed` lists next to the models. The mirror keeps memberships inside the records
//! (id lists in `data`, a stage's `parent_id`), so a join "changes" when a run adds or removes a
//! membership: a record created or deleted with members, or updated with a different set.
//!
//! To tell that without keeping the old lists, every written record of a model with joins gets
//! a *join digest* (`records.join_digest`): a JSON object from join name to a digest of the
//! record's sorted, distinct member ids, with joins that have no members left out. Two digests
//! differ in a join exactly when its member set differs (up to the hash). The page's existing
//! read returns the stored digest along with the content hash, so detecting a join change costs
//! no extra statement; deletions return the digest of the rows they mark.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::Model;

use crate::PreparedRecord;

/// Where a join's member ids live in a record.
enum Members {
    /// `data[key]`: a list of ids (employees' `group_ids`).
    Ids(&'static str),
    /// `data[key][].field`: a list of objects naming the member (jobs' `hiring_team_members`).
    Objects(&'static str, &'static str),
    /// The record's `parent_id`: an application stage belongs to its job. A stage renamed keeps
    /// its digest; created or deleted it adds or removes the membership.
    Parent,
}

/// Each join Kombo names that the mirror can see, with the model whose records carry it.
const JOINS: &[(Model, &str, Members)] = &[
    (Model::Employees, "hris_join_employees_teams", Members::Ids("group_ids")),
    (Model::Candidates, "ats_join_candidates_tags", Members::Ids("tag_ids")),
    (Model::Interviews, "ats_join_interviews_users", Members::Ids("user_ids")),
    (
        Model::Jobs,
        "ats_join_jobs_users",
        Members::Objects("hiring_team_members", "user_id"),
    ),
    (
        Model::ApplicationStages,
        "ats_join_jobs_application_stages",
        Members::Parent,
    ),
];

/// A known join name as the static string the payload uses (digests read back from the
/// database name joins by string).
pub(crate) fn name(join: &str) -> Option<&'static str> {
    JOINS.iter().map(|(_, n, _)| *n).find(|n| *n == join)
}

fn members(data: &Map<String, Value>, parent_id: Option<&str>, how: &Members) -> BTreeSet<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match how {
        Members::Ids(key) => data
            .get(*key)
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(text).collect())
            .unwrap_or_default(),
        Members::Objects(key, field) => data
            .get(*key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| i.get(*field)).filter_map(text).collect())
            .unwrap_or_default(),
        Members::Parent => parent_id.map(str::to_owned).into_iter().collect(),
    }
}

/// The record's join digest, or `None` for a model without joins (nothing to compare).
/// An empty object means "known, no members".
pub(crate) fn digest(record: &PreparedRecord) -> Option<String> {
    let mut joins = JOINS.iter().filter(|(m, _, _)| *m == record.model).peekable();
    joins.peek()?;
    let mut out = BTreeMap::new();
    for (_, join, how) in joins {
        let ids = members(&record.data, record.parent_id.as_deref(), how);
        if ids.is_empty() {
            continue;
        }
        let mut hash = Sha256::new();
        for id in &ids {
            // Length-prefixed, so ["a,b"] and ["a", "b"] cannot collide.
            hash.update((id.len() as u64).to_le_bytes());
            hash.update(id.as_bytes());
        }
        let hex: String = hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect();
        out.insert(*join, hex);
    }
    Some(serde_json::to_string(&out).expect("a map of strings serialises"))
}

fn parse(digest: &str) -> BTreeMap<String, String> {
    // A digest this code did not write (hand-edited row) counts as unknown: no change reported.
    serde_json::from_str(digest).unwrap_or_default()
}

/// The joins a deleted row leaves: every join its digest lists (a NULL digest, a row not
/// written since the digest column exists, is unknown and reports nothing).
pub(crate) fn removed(old: Option<&str>) -> Vec<&'static str> {
    old.map(parse)
        .unwrap_or_default()
        .keys()
        .filter_map(|j| name(j))
        .collect()
}

/// The joins a write changes. `old` is `None` for a record that is new (or was deleted and
/// reappears, whose memberships were reported gone with its deletion): every join it has
/// members in changed. Otherwise `Some(stored digest)`; a NULL stored digest is unknown (the row
/// predates the column) and reports nothing, so the first sync after the upgrade does not
/// announce every join as changed.
pub(crate) fn changed(old: Option<Option<&str>>, new: Option<&str>) -> Vec<&'static str> {
    let new = new.map(parse).unwrap_or_default();
    let old = match old {
        None => BTreeMap::new(),
        Some(None) => return Vec::new(),
        Some(Some(old)) => parse(old),
    };
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .filter_map(|k| name(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(model: Model, data: Value, parent: Option<&str>) -> PreparedRecord {
        PreparedRecord {
            model,
            id: "x".into(),
            remote_id: "x".into(),
            parent_id: parent.map(str::to_owned),
            depends_on: Vec::new(),
            data: data.as_object().expect("object").clone(),
            remote_data: None,
            remote_created_at: None,
            hash: [0; 16],
        }
    }

    #[test]
    fn membership_sets_not_order_or_other_fields_decide() {
        let a = digest(&rec(
            Model::Employees,
            json!({"first_name": "A", "group_ids": ["g2", "g1"]}),
            None,
        ));
        let b = digest(&rec(
            Model::Employees,
            json!({"first_name": "B", "group_ids": ["g1", "g2", "g1"]}),
            None,
        ));
        let c = digest(&rec(Model::Employees, json!({"group_ids": ["g1"]}), None));
        let none = digest(&rec(Model::Employees, json!({"group_ids": []}), None));
        assert_eq!(a, b);
        assert_eq!(changed(Some(a.as_deref()), b.as_deref()), Vec::<&str>::new());
        assert_eq!(changed(Some(a.as_deref()), c.as_deref()), ["hris_join_employees_teams"]);
        assert_eq!(
            changed(Some(c.as_deref()), none.as_deref()),
            ["hris_join_employees_teams"]
        );
        assert_eq!(changed(None, a.as_deref()), ["hris_join_employees_teams"]);
        assert_eq!(changed(None, none.as_deref()), Vec::<&str>::new());
        assert_eq!(changed(Some(None), c.as_deref()), Vec::<&str>::new(), "NULL is unknown");
        assert_eq!(removed(a.as_deref()), ["hris_join_employees_teams"]);
        assert_eq!(removed(none.as_deref()), Vec::<&str>::new());
        assert_eq!(removed(None), Vec::<&str>::new());
        assert_eq!(digest(&rec(Model::Groups, json!({"name": "g"}), None)), None);
    }

    #[test]
    fn jobs_users_and_stages() {
        let job = |users: Value| digest(&rec(Model::Jobs, json!({"hiring_team_members": users}), None));
        let one = job(json!([{"user_id": "u1", "hiring_team_roles": ["RECRUITER"]}]));
        let same = job(json!([{"user_id": "u1", "hiring_team_roles": []}]));
        let two = job(json!([{"user_id": "u1"}, {"user_id": "u2"}]));
        assert_eq!(changed(Some(one.as_deref()), same.as_deref()), Vec::<&str>::new());
        assert_eq!(changed(Some(one.as_deref()), two.as_deref()), ["ats_join_jobs_users"]);
        let stage = |name: &str, job: &str| digest(&rec(Model::ApplicationStages, json!({"name": name}), Some(job)));
        assert_eq!(
            changed(
                Some(stage("Screen", "j1").as_deref()),
                stage("Phone screen", "j1").as_deref()
            ),
            Vec::<&str>::new()
        );
        assert_eq!(
            changed(None, stage("Screen", "j1").as_deref()),
            ["ats_join_jobs_application_stages"]
        );
        assert_eq!(
            removed(stage("Screen", "j1").as_deref()),
            ["ats_join_jobs_application_stages"]
        );
    }
}
