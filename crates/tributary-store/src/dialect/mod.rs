//! The seam between an operation and the database it runs on.
//!
//! An operation of the mirror (`crate::ops`) is written once, inside `per_backend!`, which
//! expands it twice: into a `postgres` module that sees [`postgres`]'s names and a `sqlite`
//! module that sees [`sqlite`]'s. Each expansion is ordinary, monomorphic sqlx code, so the
//! operation compiles (and runs) exactly as a hand-written twin would, without generic bounds.
//! What really differs between the databases is all each dialect module supplies, under the
//! same names:
//!
//! - the types: `Pool`, `Conn`, `Tx`, `Row` and `Store` (the backend's store type);
//! - how an instant is bound and read (`time`, `get_time`, `get_opt_time`): a `timestamptz` on
//!   Postgres, fixed-width UTC text on SQLite (see `crate::clock`);
//! - the write lock: `begin_write` (Postgres takes row and advisory locks inside a plain
//!   transaction; SQLite's single writer needs `BEGIN IMMEDIATE`, or a reader that later
//!   writes fails with `SQLITE_BUSY`);
//! - `backend`: the backend's own module, for the few steps whose flow differs, not only their
//!   SQL (a page's edge work and bookkeeping: one statement on Postgres, several on SQLite).
//!
//! Row decoding shared by written-once and backend code lives in `crate::ops::rows` (`rows` in
//! an expansion), which imports nothing of the backends, so backend modules can use it without
//! an import cycle.
//!
//! The SQL text is shared wherever the dialects agree: sqlx binds `$1`-style parameters on
//! SQLite too, and both speak `ON CONFLICT … DO NOTHING/UPDATE` and `RETURNING`.
//!
//! Why this seam and not another (see also the README's "Store" section): sqlx's own
//! `Database` generics need higher-ranked `Executor` bounds and `Encode`/`Type`/`Decode` bounds
//! for every bound or read type on every function, and offer no generic `rows_affected`;
//! `sqlx::Any` has no arrays, no `timestamptz`, no `LISTEN` and converts every value on the hot
//! path. Expanding one source per backend keeps each backend's native types and statement
//! cache, the way a one-operation-per-file `sql/` layout (graphile_worker_rs) keeps one place
//! per operation.

pub(crate) mod postgres;
pub(crate) mod sqlite;

/// Expands the items given to it once per dialect, into `postgres` and `sqlite` submodules of
/// the calling module; each sees its dialect's names (and the calling module's). For code the
/// backend modules use themselves (row decoding): `crate::ops::per_backend!` adds the backend
/// modules.
macro_rules! per_dialect {
    (@one $dialect:ident $($item:item)*) => {
        pub(crate) mod $dialect {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::dialect::$dialect::*;
            $($item)*
        }
    };
    ($($item:item)*) => {
        per_dialect!(@one postgres $($item)*);
        per_dialect!(@one sqlite $($item)*);
    };
}
pub(crate) use per_dialect;

/// A delivery attempt's outcome on delivery `$1`: status `$2`, error `$3`, state `$4`, next
/// attempt `$5` (NULL: unchanged), at `$6`. A delivery already DELIVERED stays so (a deliverer
/// whose lease ran out may report after the one that took over succeeded).
macro_rules! attempt_outcome {
    () => {
        concat!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3, ",
            "state = CASE WHEN state = 'DELIVERED' THEN state ELSE $4 END, ",
            "next_attempt_at = CASE WHEN state = 'DELIVERED' THEN next_attempt_at ELSE COALESCE($5, next_attempt_at) END, ",
            "delivered_at = CASE WHEN state = 'DELIVERED' THEN delivered_at WHEN $4 = 'DELIVERED' THEN $6 ELSE NULL END ",
            "WHERE id = $1"
        )
    };
}
pub(crate) use attempt_outcome;

/// The attempt itself, after [`attempt_outcome`]'s parameters: number `$7`, latency `$8`,
/// response excerpt `$9`; the values follow.
macro_rules! insert_attempt {
    () => {
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, response_excerpt, error) "
    };
}
pub(crate) use insert_attempt;
