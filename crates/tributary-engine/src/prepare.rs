use tributary_model::{IdGen, ScopeConfig, SourceRecord, content_hash, strip_pointer};
use tributary_source::Connector;
use tributary_store::PreparedRecord;

/// Turns a connector's record into what the mirror stores: disabled fields stripped from the
/// unified data *and* from the raw payload (invariant I6), ids derived, content hashed.
/// Returns `None` for records of a disabled model.
pub fn prepare_record(
    mut record: SourceRecord,
    scope: &ScopeConfig,
    ids: &IdGen,
    connector: &dyn Connector,
) -> Option<PreparedRecord> {
    if !scope.model_enabled(record.model) {
        return None;
    }
    for field in scope.disabled_fields(record.model) {
        record.data.remove(field);
        if let Some(raw) = record.remote_data.as_mut() {
            for pointer in connector.remote_paths(record.model, field) {
                strip_pointer(raw, &pointer);
            }
        }
    }
    // Hash after stripping: toggling a disabled field at the source must not count as change.
    let hash = content_hash(&record);
    let id = ids.id(record.model, &record.remote_id);
    let parent_id = record.parent.as_ref().map(|(m, r)| ids.id(*m, r));
    let depends_on = record.depends_on.iter().map(|(m, r)| ids.id(*m, r)).collect();
    Some(PreparedRecord {
        model: record.model,
        id,
        remote_id: record.remote_id,
        parent_id,
        depends_on,
        data: record.data,
        remote_data: record.remote_data,
        remote_created_at: record.remote_created_at,
        hash,
    })
}
