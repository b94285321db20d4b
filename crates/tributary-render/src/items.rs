//! A model's list items: the entry point both renderers use (the gateway's live one and the
//! writes' stored one), joining the endpoint table (`catalog`) with the assembly.

use tributary_model::Model;
use tributary_store::{Integration, RecordReads, StoreError, StoredRecord};

use crate::assemble::{Assembly, Item};
use crate::catalog::endpoint;
use crate::schema::shape;

/// `records` (of one model) rendered as the items of that model's list endpoint, in order.
/// `include_deleted` is the request's: nested lists show deleted entries only when it is set.
pub async fn render_items(
    reads: &dyn RecordReads,
    integration: &Integration,
    model: Model,
    records: Vec<StoredRecord>,
    include_deleted: bool,
) -> Result<Vec<Item>, StoreError> {
    let endpoint = endpoint(model);
    let assembly = Assembly {
        reads,
        integration,
        include_deleted,
    };
    assembly
        .render(records, shape(model), endpoint.joins, endpoint.aliases)
        .await
}
