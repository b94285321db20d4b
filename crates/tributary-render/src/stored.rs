//! The renderer mirror writes keep stored renderings with (`tributary_store::Renderer`): the
//! same [`render_items`] the gateway renders live with, so both give the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use tributary_model::Model;
use tributary_store::{Integration, RecordReads, Renderer, Rendering, StoreError, StoredRecord};

use crate::items::render_items;

/// Renders each record as the item of its model's list endpoint for a request without
/// `include_deleted` (the only one served from stored renderings: with it, nested lists also
/// show deleted entries).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredRenderer;

#[async_trait]
impl Renderer for StoredRenderer {
    async fn render(
        &self,
        integration: &Integration,
        reads: &dyn RecordReads,
        records: Vec<StoredRecord>,
    ) -> Result<Vec<Rendering>, StoreError> {
        let mut by_model: BTreeMap<Model, Vec<StoredRecord>> = BTreeMap::new();
        for record in records {
            by_model.entry(record.model).or_default().push(record);
        }
        let mut out = Vec::new();
        for (model, records) in by_model {
            // A disabled model is never served (its rows are being marked deleted).
            if !integration.scope_config.model_enabled(model) {
                continue;
            }
            let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
            let items = render_items(reads, integration, model, records, false).await?;
            for (id, item) in ids.into_iter().zip(items) {
                let body = serde_json::to_string(&item.wire)
                    .map_err(|e| StoreError::Corrupt(format!("rendering {id}: {e}")))?;
                let deps: BTreeSet<String> = item.deps.into_iter().filter(|dep| *dep != id).collect();
                out.push(Rendering {
                    id,
                    body,
                    deps: deps.into_iter().collect(),
                });
            }
        }
        Ok(out)
    }
}
