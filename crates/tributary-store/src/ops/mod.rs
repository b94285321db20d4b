//! The mirror's operations, each written once for both backends (see `crate::dialect`), one
//! concern per file, each with the role trait it implements.

/// `crate::dialect::per_dialect!` with, in each expansion, `backend` (the backend's own module,
/// for the steps whose flow differs), `rows` (the decoders of [`rows`] for that dialect) and the
/// fenced write transactions of [`fence`].
/// `per_backend!(with [leaf, …] items)` also brings in those files' expansions for the same
/// dialect under their names (code other operations share: [`run_queries`], the enqueue of [`runs`]).
macro_rules! per_backend {
    (@one $dialect:ident [$($leaf:ident)*] $($item:item)*) => {
        pub(crate) mod $dialect {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::dialect::$dialect::*;
            #[allow(unused_imports)]
            use crate::$dialect as backend;
            #[allow(unused_imports)]
            use crate::ops::rows::$dialect as rows;
            #[allow(unused_imports)]
            use crate::ops::fence::$dialect::{begin_fenced, begin_fenced_scope};
            $(use crate::ops::$leaf::$dialect as $leaf;)*
            $($item)*
        }
    };
    (with [$($leaf:ident),*] $($item:item)*) => {
        per_backend!(@one postgres [$($leaf)*] $($item)*);
        per_backend!(@one sqlite [$($leaf)*] $($item)*);
    };
    ($($item:item)*) => {
        per_backend!(with [] $($item)*);
    };
}

pub(crate) mod api_keys;
pub(crate) mod backend;
pub(crate) mod change_log;
pub(crate) mod dependents;
pub(crate) mod events;
pub(crate) mod fence;
pub(crate) mod fleet_stats;
pub(crate) mod health;
pub(crate) mod inbound_webhooks;
pub(crate) mod integrations;
pub(crate) mod leases;
pub(crate) mod mirror_reads;
pub(crate) mod mirror_writes;
pub(crate) mod outbox;
pub(crate) mod pages;
pub(crate) mod rendered;
pub(crate) mod rows;
pub(crate) mod run_queries;
pub(crate) mod runs;
pub(crate) mod schedules;
pub(crate) mod webhook_endpoints;
