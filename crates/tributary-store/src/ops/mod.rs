//! The mirror's operations, each written once for both backends (see `crate::dialect`), one
//! concern per file, each with the role trait it implements.

/// `crate::dialect::per_dialect!` with, in each expansion, `backend` (the backend's own module,
/// for what is not written once) and `rows` (the decoders of [`rows`] for that dialect).
macro_rules! per_backend {
    (@one $dialect:ident $($item:item)*) => {
        pub(crate) mod $dialect {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::dialect::$dialect::*;
            #[allow(unused_imports)]
            use crate::$dialect as backend;
            #[allow(unused_imports)]
            use crate::ops::rows::$dialect as rows;
            $($item)*
        }
    };
    ($($item:item)*) => {
        per_backend!(@one postgres $($item)*);
        per_backend!(@one sqlite $($item)*);
    };
}

pub(crate) mod api_keys;
pub(crate) mod inbound_webhooks;
pub(crate) mod integrations;
pub(crate) mod leases;
pub(crate) mod mirror_writes;
pub(crate) mod outbox;
pub(crate) mod rows;
pub(crate) mod schedules;
pub(crate) mod webhook_endpoints;
