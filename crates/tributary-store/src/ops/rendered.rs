//! Stored renderings (see `crate::rendering`): marking them pending inside a mirror write,
//! rendering what is pending through that write's own transaction, and the reads a renderer
//! makes through it. Leaf code: the page writes, deletions and rewrites of `mirror_writes` call
//! it under the integration's write lock, so a rendering and the data it shows commit together.

use tokio::sync::Mutex;
use tributary_model::Model;

use crate::ops::mirror_reads::ConnReads;
use crate::{RecordQuery, RecordReads, RenderHook, StoreError, StoredRecord};

per_backend! {
    with [integrations]

    /// Marks pending the renderings of `touched` (records written, and the parents of written
    /// records: their nested lists changed) and of every record whose rendering depends on one
    /// of `changed`. A record without a rendering row gets one, pending.
    pub(crate) async fn invalidate(
        conn: &mut Conn,
        integration_id: &str,
        touched: &[String],
        changed: &[String],
    ) -> Result<(), StoreError> {
        if touched.is_empty() && changed.is_empty() {
            return Ok(());
        }
        // UNION, not UNION ALL: an upsert may not touch one row twice.
        sqlx::query(concat!(
            "INSERT INTO rendered (integration_id, id, scope_version, body) ",
            "SELECT CAST($1 AS TEXT), u.id, 0, NULL FROM (SELECT t.id FROM ",
            text_rows!("t": "$2" as "id"),
            " UNION SELECT dependent_id FROM render_deps WHERE integration_id = $1 AND source_id ",
            in_list!("$3"),
            ") u WHERE true ON CONFLICT (integration_id, id) DO UPDATE SET body = NULL WHERE rendered.body IS NOT NULL"
        ))
        .bind(integration_id)
        .bind(str_list(touched)?)
        .bind(str_list(changed)?)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Renders up to `limit` pending renderings of the integration with `hook`, reading
    /// through `conn` (the caller's transaction, holding the write lock), and returns how many
    /// it settled: rendered, or dropped because their record is gone or deleted (the read API
    /// shows no deleted record from a rendering).
    pub(crate) async fn render_pending(
        conn: &mut Conn,
        integration_id: &str,
        hook: &RenderHook,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let pending: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM rendered WHERE integration_id = $1 AND body IS NULL ORDER BY id LIMIT $2",
        )
        .bind(integration_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let integration = integrations::integration_on(&mut *conn, integration_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
        let found = sqlx::query(concat!(
            "SELECT model, id, remote_id, parent_id, data, ",
            remote_data_text!(),
            " AS remote_data, remote_created_at, changed_at, updated_at, remote_deleted_at, scope_version ",
            "FROM records WHERE integration_id = $1 AND remote_deleted_at IS NULL AND id ",
            in_list!("$2"),
            " ORDER BY id"
        ))
        .bind(integration_id)
        .bind(str_list(&pending)?)
        .fetch_all(&mut *conn)
        .await?;
        let live = found.iter().map(rows::record).collect::<Result<Vec<_>, _>>()?;
        let renderings = {
            let reads = TxReads {
                conn: Mutex::new(&mut *conn),
            };
            hook.0.render(&integration, &reads, live).await?
        };

        let mut ids = Vec::with_capacity(renderings.len());
        let mut bodies = Vec::with_capacity(renderings.len());
        let mut dep_sources = Vec::new();
        let mut dep_dependents = Vec::new();
        for r in &renderings {
            ids.push(r.id.as_str());
            bodies.push(r.body.as_str());
            for source in &r.deps {
                dep_sources.push(source.as_str());
                dep_dependents.push(r.id.as_str());
            }
        }
        // Every pending id loses its old dependencies: a rendered one gets its new set below,
        // one without a rendering (gone, deleted) has none.
        sqlx::query(concat!(
            "DELETE FROM render_deps WHERE integration_id = $1 AND dependent_id ",
            in_list!("$2")
        ))
        .bind(integration_id)
        .bind(str_list(&pending)?)
        .execute(&mut *conn)
        .await?;
        if !dep_sources.is_empty() {
            sqlx::query(concat!(
                "INSERT INTO render_deps (integration_id, source_id, dependent_id) SELECT CAST($1 AS TEXT), d.s, d.p FROM ",
                text_rows!("d": "$2" as "s", "$3" as "p"),
                " WHERE true ON CONFLICT DO NOTHING"
            ))
            .bind(integration_id)
            .bind(str_list(&dep_sources)?)
            .bind(str_list(&dep_dependents)?)
            .execute(&mut *conn)
            .await?;
        }
        if !ids.is_empty() {
            sqlx::query(concat!(
                "UPDATE rendered SET body = b.body, scope_version = $4 FROM ",
                text_rows!("b": "$2" as "id", "$3" as "body"),
                " WHERE rendered.integration_id = $1 AND rendered.id = b.id"
            ))
            .bind(integration_id)
            .bind(str_list(&ids)?)
            .bind(str_list(&bodies)?)
            .bind(integration.scope_version)
            .execute(&mut *conn)
            .await?;
        }
        // Pending rows the renderer gave nothing for: their records are gone or deleted.
        let rendered: std::collections::HashSet<&str> = ids.iter().copied().collect();
        let dropped: Vec<&str> = pending.iter().map(String::as_str).filter(|id| !rendered.contains(id)).collect();
        if !dropped.is_empty() {
            sqlx::query(concat!(
                "DELETE FROM rendered WHERE integration_id = $1 AND body IS NULL AND id ",
                in_list!("$2")
            ))
            .bind(integration_id)
            .bind(str_list(&dropped)?)
            .execute(&mut *conn)
            .await?;
        }
        Ok(pending.len() as u64)
    }

    /// A renderer's reads, made through the write transaction that renders.
    struct TxReads<'c> {
        conn: Mutex<&'c mut Conn>,
    }

    #[async_trait::async_trait]
    impl RecordReads for TxReads<'_> {
        async fn query_records(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError> {
            let mut conn = self.conn.lock().await;
            conn.query_on(query).await
        }

        async fn records_by_parent(
            &self,
            integration_id: &str,
            model: Model,
            parent_ids: &[String],
        ) -> Result<Vec<StoredRecord>, StoreError> {
            if parent_ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.conn.lock().await;
            conn.by_parent_on(integration_id, model, parent_ids).await
        }
    }
}
