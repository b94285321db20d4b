//! The mirror's operations, each written once for both backends (see `crate::dialect`), one
//! concern per file, each with the role trait it implements.

pub(crate) mod api_keys;
pub(crate) mod inbound_webhooks;
pub(crate) mod integrations;
