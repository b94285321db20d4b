//! Whether a database holds exactly this release's migrations, for roles that start without
//! migrating (`--skip-migrations`, after a migrate step: an init container or a Job).

use std::fmt;

/// How a database's applied migrations compare with this release's ([`crate::Backend::schema_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Every migration of this release is applied, and nothing else.
    Current,
    /// `applied` of the release's `known` migrations are applied; `next` is the first missing
    /// one (e.g. `0010_trace_context`).
    Behind { applied: usize, known: usize, next: String },
    /// A migration started and did not finish (sqlx recorded it with `success = false`).
    Dirty { migration: String },
    /// An applied migration this release does not know: a newer release migrated the database.
    Newer { version: i64 },
    /// An applied migration whose checksum differs from this release's file of that version.
    Changed { migration: String },
}

impl fmt::Display for SchemaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaStatus::Current => f.write_str("all migrations applied"),
            SchemaStatus::Behind { applied, known, next } => {
                write!(f, "{applied} of {known} migrations applied; next: {next}")
            }
            SchemaStatus::Dirty { migration } => write!(f, "migration {migration} did not finish"),
            SchemaStatus::Newer { version } => {
                write!(f, "migration {version} is applied but unknown to this release")
            }
            SchemaStatus::Changed { migration } => {
                write!(f, "migration {migration} differs from this release's")
            }
        }
    }
}

/// A migration as its file is named: `0010_trace_context`.
fn name(m: &sqlx::migrate::Migration) -> String {
    format!("{:04}_{}", m.version, m.description.replace(' ', "_"))
}

/// Compares `applied` (rows of `_sqlx_migrations`: version, success, checksum) with the
/// release's migrations. A failed migration is named first: it is what `migrate` stops on.
pub(crate) fn compare(migrator: &sqlx::migrate::Migrator, applied: &[(i64, bool, Vec<u8>)]) -> SchemaStatus {
    let known: Vec<&sqlx::migrate::Migration> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let find = |version: i64| known.iter().find(|m| m.version == version);
    if let Some((version, ..)) = applied.iter().find(|(_, success, _)| !success) {
        let migration = find(*version).map_or_else(|| version.to_string(), |m| name(m));
        return SchemaStatus::Dirty { migration };
    }
    for (version, _, checksum) in applied {
        match find(*version) {
            None => return SchemaStatus::Newer { version: *version },
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => {
                return SchemaStatus::Changed { migration: name(m) };
            }
            Some(_) => {}
        }
    }
    match known.iter().find(|m| !applied.iter().any(|(v, ..)| *v == m.version)) {
        Some(next) => SchemaStatus::Behind {
            applied: applied.len(),
            known: known.len(),
            next: name(next),
        },
        None => SchemaStatus::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrator() -> sqlx::migrate::Migrator {
        crate::dialect::postgres::migrator!()
    }

    fn rows(migrator: &sqlx::migrate::Migrator, upto: usize) -> Vec<(i64, bool, Vec<u8>)> {
        migrator
            .iter()
            .take(upto)
            .map(|m| (m.version, true, m.checksum.to_vec()))
            .collect()
    }

    #[test]
    fn every_difference_is_named() {
        let m = migrator();
        let all = m.iter().count();
        assert_eq!(compare(&m, &rows(&m, all)), SchemaStatus::Current);

        let behind = compare(&m, &rows(&m, 9));
        assert_eq!(
            behind.to_string(),
            format!("9 of {all} migrations applied; next: 0010_trace_context")
        );
        assert_eq!(
            compare(&m, &[]).to_string(),
            format!("0 of {all} migrations applied; next: 0001_mirror")
        );

        let mut dirty = rows(&m, all);
        dirty[3].1 = false;
        assert_eq!(
            compare(&m, &dirty),
            SchemaStatus::Dirty {
                migration: "0004_webhooks".into()
            }
        );

        let mut newer = rows(&m, all);
        newer.push((9999, true, vec![]));
        assert_eq!(compare(&m, &newer), SchemaStatus::Newer { version: 9999 });

        let mut changed = rows(&m, all);
        changed[0].2 = vec![0; 48];
        assert_eq!(
            compare(&m, &changed),
            SchemaStatus::Changed {
                migration: "0001_mirror".into()
            }
        );
    }
}
