//! The backend-independent half of a page write: which records changed, what edges they
//! declare, and whose `updated_at` their change moves. The backends do the I/O around it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tributary_model::Model;

use crate::{ChangeKind, ModelCounts, PreparedRecord, RunWrite, StoreError, WriteOutcome};
use crate::{clock, joins};

/// What the mirror already holds for one of the page's ids.
#[derive(Debug)]
pub(crate) struct Existing {
    pub hash: Vec<u8>,
    pub deleted: bool,
    /// `records.join_digest`; `None` is NULL, "unknown" (see joins.rs).
    pub join_digest: Option<String>,
    /// `records.scope_version`: the scope version the row was prepared under.
    pub scope_version: i64,
}

/// One "changes of `source` move `dependent`'s updated_at" edge, declared by `declared_by`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Edge {
    pub declared_by: String,
    pub dependent: String,
    pub source: String,
}

/// A page, classified against the mirror.
#[derive(Debug)]
pub(crate) struct PagePlan {
    /// Every id of the page, for the deletion sweep's run_seen row.
    pub seen_ids: Vec<String>,
    /// The records to upsert, with the change they make.
    pub writes: Vec<(PreparedRecord, ChangeKind)>,
    /// The join digest to store with each write (parallel to `writes`): computed here, once,
    /// so both backends store the same text.
    pub join_digests: Vec<Option<String>>,
    /// The join tables the writes change (sorted, distinct), for the run's `changed_joins`.
    pub changed_joins: Vec<&'static str>,
    /// Unchanged rows written under an older scope version: the same hash means the same
    /// (already stripped) content, so only their version moves to the page's.
    pub restamped: Vec<String>,
    /// The change-log entries, one per page that changed a record, in page order: what writing
    /// the pages one by one would have logged.
    pub changes: Vec<(Model, String, ChangeKind)>,
    /// How many pages the plan covers.
    pub pages: i64,
    pub outcome: WriteOutcome,
}

impl PagePlan {
    pub fn written_ids(&self) -> Vec<String> {
        self.writes.iter().map(|(r, _)| r.id.clone()).collect()
    }

    /// Written records that existed before: only they can have edges stored to replace, since
    /// a record's edges and its row are only ever removed together (with the integration).
    pub fn replaced_ids(&self) -> Vec<String> {
        self.writes
            .iter()
            .filter(|(_, kind)| *kind != ChangeKind::Created)
            .map(|(r, _)| r.id.clone())
            .collect()
    }

    /// The edges the written records declare now (their old ones get replaced).
    pub fn new_edges(&self) -> Vec<Edge> {
        self.writes.iter().flat_map(|(r, _)| declared_edges(r)).collect()
    }
}

/// Keeps the last occurrence of each (model, id): a tool that lists a record twice in one page
/// (offset pagination over a shifting list does) must not make the batch upsert touch a row
/// twice, which Postgres rejects.
pub(crate) fn dedupe(records: Vec<PreparedRecord>) -> Vec<PreparedRecord> {
    let mut last: HashMap<(Model, String), usize> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        last.insert((r.model, r.id.clone()), i);
    }
    records
        .into_iter()
        .enumerate()
        .filter(|(i, r)| last.get(&(r.model, r.id.clone())) == Some(i))
        .map(|(_, mut r)| {
            r.remote_created_at = r.remote_created_at.map(clock::truncate);
            r
        })
        .collect()
}

/// Splits a (deduplicated) page into writes and unchanged records. A record is written when it
/// is new, its hash differs, or it was marked deleted and has reappeared (invariant I1).
pub(crate) fn plan(
    records: Vec<PreparedRecord>,
    existing: &HashMap<(Model, String), Existing>,
    scope_version: i64,
) -> PagePlan {
    let mut seen_ids = Vec::with_capacity(records.len());
    let mut restamped = Vec::new();
    let mut writes = Vec::new();
    let mut join_digests = Vec::new();
    let mut outcome = WriteOutcome::default();
    let mut models = BTreeSet::new();
    let mut by_model: BTreeMap<Model, ModelCounts> = BTreeMap::new();
    let mut changed_joins = BTreeSet::new();
    for record in records {
        let counts = by_model.entry(record.model).or_default();
        seen_ids.push(record.id.clone());
        let old = existing.get(&(record.model, record.id.clone()));
        let kind = match old {
            None => ChangeKind::Created,
            Some(old) if old.deleted || old.hash != record.hash => ChangeKind::Updated,
            Some(old) => {
                // Same content hash, same data: the memberships cannot have changed either.
                outcome.unchanged += 1;
                counts.unchanged += 1;
                if old.scope_version != scope_version {
                    restamped.push(record.id);
                }
                continue;
            }
        };
        match kind {
            ChangeKind::Created => {
                outcome.created += 1;
                counts.created += 1;
            }
            _ => {
                outcome.updated += 1;
                counts.updated += 1;
            }
        }
        models.insert(record.model);
        let digest = joins::digest(&record);
        // A reappearing record had its memberships reported gone with its deletion: it adds
        // them again like a new one.
        let before = old.filter(|o| !o.deleted).map(|o| o.join_digest.as_deref());
        changed_joins.extend(joins::changed(before, digest.as_deref()));
        join_digests.push(digest);
        writes.push((record, kind));
    }
    outcome.changed_models = models.into_iter().collect();
    outcome.by_model = by_model.into_iter().collect();
    let changes = writes.iter().map(|(r, kind)| (r.model, r.id.clone(), *kind)).collect();
    PagePlan {
        seen_ids,
        writes,
        join_digests,
        changed_joins: changed_joins.into_iter().collect(),
        restamped,
        changes,
        pages: 1,
        outcome,
    }
}

/// Plans consecutive pages as one write: each page is planned against the mirror as the
/// pages before it in the batch leave it, so the counts, the change log and the joins come
/// out as they would page by page. A record several pages write is upserted once, with its
/// last content; it counts as created when the mirror did not hold it before the batch (it
/// then has no stored edges to replace).
pub(crate) fn plan_pages(
    pages: Vec<Vec<PreparedRecord>>,
    mut existing: HashMap<(Model, String), Existing>,
    scope_version: i64,
) -> PagePlan {
    let mut merged = PagePlan {
        seen_ids: Vec::new(),
        writes: Vec::new(),
        join_digests: Vec::new(),
        changed_joins: Vec::new(),
        restamped: Vec::new(),
        changes: Vec::new(),
        pages: 0,
        outcome: WriteOutcome::default(),
    };
    let mut position: HashMap<(Model, String), usize> = HashMap::new();
    let mut models = BTreeSet::new();
    let mut joins = BTreeSet::new();
    let mut by_model: BTreeMap<Model, ModelCounts> = BTreeMap::new();
    for records in pages {
        let page = plan(dedupe(records), &existing, scope_version);
        merged.pages += 1;
        merged.seen_ids.extend(page.seen_ids);
        merged.changes.extend(page.changes);
        joins.extend(page.changed_joins);
        models.extend(page.outcome.changed_models);
        merged.outcome.created += page.outcome.created;
        merged.outcome.updated += page.outcome.updated;
        merged.outcome.unchanged += page.outcome.unchanged;
        for (model, counts) in page.outcome.by_model {
            let sum = by_model.entry(model).or_default();
            sum.created += counts.created;
            sum.updated += counts.updated;
            sum.unchanged += counts.unchanged;
        }
        merged.restamped.extend(page.restamped);
        for ((record, kind), digest) in page.writes.into_iter().zip(page.join_digests) {
            let key = (record.model, record.id.clone());
            existing.insert(
                key.clone(),
                Existing {
                    hash: record.hash.to_vec(),
                    deleted: false,
                    join_digest: digest.clone(),
                    scope_version,
                },
            );
            match position.get(&key) {
                Some(&at) => {
                    // Created earlier in the batch stays created: it was not stored before.
                    merged.writes[at].0 = record;
                    merged.join_digests[at] = digest;
                }
                None => {
                    position.insert(key, merged.writes.len());
                    merged.writes.push((record, kind));
                    merged.join_digests.push(digest);
                }
            }
        }
    }
    // A row two pages list unchanged is restamped once.
    merged.restamped.sort_unstable();
    merged.restamped.dedup();
    merged.changed_joins = joins.into_iter().collect();
    merged.outcome.changed_models = models.into_iter().collect();
    merged.outcome.by_model = by_model.into_iter().collect();
    merged
}

/// Whether a page prepared under `prepared` may be written by `run`: only under the
/// integration's `current` scope version, and for a complete run only if its pass started
/// under that version too (`pass`; `None` for a run started before versions existed, which
/// counts as started under the current one).
pub(crate) fn check_scope(run: &RunWrite, prepared: i64, current: i64, pass: Option<i64>) -> Result<(), StoreError> {
    let pass_stale = run.sync_type.is_complete() && pass.is_some_and(|p| p != current);
    if prepared != current || pass_stale {
        return Err(StoreError::ScopeChanged {
            integration_id: run.integration_id.clone(),
            prepared: if prepared != current {
                prepared
            } else {
                pass.unwrap_or(prepared)
            },
            current,
        });
    }
    Ok(())
}

/// A nested record moves its parent (dependent = parent, source = itself); a linked record
/// moves the record that links to it (dependent = itself, source = each `depends_on`).
pub(crate) fn declared_edges(record: &PreparedRecord) -> Vec<Edge> {
    let parent = record.parent_id.iter().map(|p| Edge {
        declared_by: record.id.clone(),
        dependent: p.clone(),
        source: record.id.clone(),
    });
    let links = record.depends_on.iter().map(|d| Edge {
        declared_by: record.id.clone(),
        dependent: record.id.clone(),
        source: d.clone(),
    });
    let mut edges: Vec<Edge> = parent.chain(links).collect();
    // The edge table's key is the whole edge; a record listing a dependency twice declares it once.
    let mut unique = HashSet::new();
    edges.retain(|e| unique.insert(e.clone()));
    edges
}

/// The ids whose `updated_at` moves because `changed` changed: dependents under the edges
/// stored before the write (`old_dependents`, already looked up) and under the edges the
/// written records declare now — so an employment that moves between employees bumps both —
/// less the changed records themselves, whose `updated_at` is set anyway.
pub(crate) fn dependents_to_bump(changed: &[String], old_dependents: Vec<String>, new_edges: &[Edge]) -> Vec<String> {
    let changed: HashSet<&str> = changed.iter().map(String::as_str).collect();
    let mut out: BTreeSet<String> = old_dependents.into_iter().collect();
    out.extend(
        new_edges
            .iter()
            .filter(|e| changed.contains(e.source.as_str()))
            .map(|e| e.dependent.clone()),
    );
    out.retain(|id| !changed.contains(id.as_str()));
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn rec(id: &str, hash: u8) -> PreparedRecord {
        PreparedRecord {
            model: Model::Employments,
            id: id.into(),
            remote_id: id.into(),
            parent_id: Some("emp".into()),
            depends_on: vec!["loc".into(), "loc".into()],
            data: Map::new(),
            remote_data: None,
            remote_created_at: None,
            hash: [hash; 16],
        }
    }

    #[test]
    fn classifies_new_changed_undeleted_and_unchanged() {
        let mut existing = HashMap::new();
        existing.insert(
            (Model::Employments, "b".to_string()),
            Existing {
                hash: vec![2; 16],
                deleted: false,
                join_digest: None,
                scope_version: 1,
            },
        );
        existing.insert(
            (Model::Employments, "c".to_string()),
            Existing {
                hash: vec![1; 16],
                deleted: false,
                join_digest: None,
                scope_version: 1,
            },
        );
        existing.insert(
            (Model::Employments, "d".to_string()),
            Existing {
                hash: vec![1; 16],
                deleted: true,
                join_digest: None,
                scope_version: 1,
            },
        );
        let plan = plan(
            dedupe(vec![rec("a", 1), rec("b", 1), rec("c", 1), rec("d", 1), rec("a", 1)]),
            &existing,
            1,
        );
        assert_eq!(plan.seen_ids, vec!["b", "c", "d", "a"]);
        assert_eq!(plan.written_ids(), vec!["b", "d", "a"]);
        assert_eq!(
            (plan.outcome.created, plan.outcome.updated, plan.outcome.unchanged),
            (1, 2, 1)
        );
        assert_eq!(plan.outcome.changed_models, vec![Model::Employments]);
        let split = ModelCounts {
            created: 1,
            updated: 2,
            unchanged: 1,
            deleted: 0,
        };
        assert_eq!(plan.outcome.by_model, vec![(Model::Employments, split)]);
        assert_eq!(plan.join_digests, vec![None, None, None], "employments have no joins");
        assert!(plan.changed_joins.is_empty());
    }

    fn employee(id: &str, groups: &[&str], hash: u8) -> PreparedRecord {
        PreparedRecord {
            model: Model::Employees,
            parent_id: None,
            depends_on: Vec::new(),
            data: serde_json::json!({"group_ids": groups})
                .as_object()
                .expect("object")
                .clone(),
            ..rec(id, hash)
        }
    }

    #[test]
    fn join_changes_follow_memberships_and_null_is_unknown() {
        let stored = |groups: &[&str], digest: bool, deleted: bool| Existing {
            hash: vec![0; 16],
            deleted,
            join_digest: if digest {
                joins::digest(&employee("x", groups, 0))
            } else {
                None
            },
            scope_version: 1,
        };
        let mut existing = HashMap::new();
        existing.insert((Model::Employees, "same".to_string()), stored(&["g1"], true, false));
        existing.insert((Model::Employees, "unknown".to_string()), stored(&[], false, false));
        let plan = plan(
            vec![employee("same", &["g1"], 1), employee("unknown", &["g2"], 1)],
            &existing,
            1,
        );
        assert_eq!(plan.outcome.updated, 2);
        assert!(plan.changed_joins.is_empty(), "{:?}", plan.changed_joins);
        assert!(plan.join_digests.iter().all(Option::is_some));

        existing.insert((Model::Employees, "gone".to_string()), stored(&["g1"], true, true));
        let moved = super::plan(vec![employee("same", &["g2"], 1)], &existing, 1);
        assert_eq!(moved.changed_joins, ["hris_join_employees_teams"]);
        let back = super::plan(vec![employee("gone", &["g1"], 0)], &existing, 1);
        assert_eq!(
            back.changed_joins,
            ["hris_join_employees_teams"],
            "reappearing adds memberships"
        );
        let fresh = super::plan(vec![employee("new", &[], 1)], &existing, 1);
        assert!(fresh.changed_joins.is_empty(), "created without members");
    }

    #[test]
    fn unchanged_rows_of_an_older_scope_version_are_restamped() {
        let mut existing = HashMap::new();
        for (id, version) in [("old", 1), ("current", 2)] {
            existing.insert(
                (Model::Employments, id.to_string()),
                Existing {
                    hash: vec![1; 16],
                    deleted: false,
                    join_digest: None,
                    scope_version: version,
                },
            );
        }
        let plan = plan(vec![rec("old", 1), rec("current", 1), rec("new", 1)], &existing, 2);
        assert_eq!(plan.restamped, vec!["old"]);
        assert_eq!(plan.written_ids(), vec!["new"]);
        assert_eq!(plan.outcome.unchanged, 2, "a restamp is no change");
    }

    #[test]
    fn edges_and_bumps() {
        let edges = declared_edges(&rec("a", 1));
        assert_eq!(edges.len(), 2, "parent edge plus one deduplicated link");
        let bump = dependents_to_bump(&["a".into()], vec!["old_emp".into(), "a".into()], &edges);
        assert_eq!(bump, vec!["emp", "old_emp"]);
    }
}
