//! Stored renderings (see `crate::rendering`): marking them pending inside a mirror write,
//! rendering what is pending through that write's own transaction, and the reads a renderer
//! makes through it. Leaf code: the page writes, deletions and rewrites of `mirror_writes` call
//! it under the integration's write lock, so a rendering and the data it shows commit together.

use tokio::sync::Mutex;
use tributary_model::Model;

use crate::ops::mirror_reads::ConnReads;
use crate::{Integration, RecordQuery, RecordReads, RenderHook, Rendering, RunWrite, StoreError, StoredRecord};

/// The `after` of a walk from the first record: every id is longer, so greater. A bound that is
/// always there keeps `id > $2` an index condition in the generic plan Postgres settles on
/// after five executions; `($2 IS NULL OR id > $2)` made each window scan the integration's
/// records from the first (2.2 s a window at 880,000 records).
pub(crate) const BEFORE_EVERY_ID: &str = "";

/// Whether a record of `records` has a ready rendering, as a scalar subquery: one probe of
/// `rendered`'s primary key per record. Written as `NOT EXISTS`, Postgres planned a hashed
/// subplan that read every rendering of the integration for each window, which made a sweep
/// quadratic in the mirror's size (30 ms a window at 20,000 renderings, 8 ms this way).
macro_rules! ready_rendering {
    () => {
        "(SELECT 1 FROM rendered p WHERE p.integration_id = records.integration_id AND p.id = records.id AND p.body IS NOT NULL)"
    };
}

per_backend! {
    with [integrations]

    use sqlx::Row as _;

    /// What a write changes the items of: `touched` (records written, and the parents of
    /// written records: their nested lists changed) and every record whose item depends on one
    /// of `changed`.
    async fn affected(
        conn: &mut Conn,
        integration_id: &str,
        touched: &[String],
        changed: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let found = sqlx::query_scalar(concat!(
            "SELECT t.id FROM ",
            text_rows!("t": "$2" as "id"),
            " UNION SELECT dependent_id FROM render_deps WHERE integration_id = $1 AND source_id ",
            in_list!("$3")
        ))
        .bind(integration_id)
        .bind(str_list(touched)?)
        .bind(str_list(changed)?)
        .fetch_all(conn)
        .await?;
        Ok(found)
    }

    /// Makes pending the existing renderings of `touched` and of what depends on `changed`,
    /// inserting none: a record without a rendering is served live until one is made.
    async fn make_stale(
        conn: &mut Conn,
        integration_id: &str,
        touched: &[String],
        changed: &[String],
    ) -> Result<(), StoreError> {
        if touched.is_empty() && changed.is_empty() {
            return Ok(());
        }
        sqlx::query(concat!(
            "UPDATE rendered SET body = NULL WHERE integration_id = $1 AND body IS NOT NULL AND (id IN (SELECT t.id FROM ",
            text_rows!("t": "$2" as "id"),
            ") OR id IN (SELECT d.dependent_id FROM render_deps d WHERE d.integration_id = $1 AND d.source_id ",
            in_list!("$3"),
            "))"
        ))
        .bind(integration_id)
        .bind(str_list(touched)?)
        .bind(str_list(changed)?)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Marks `ids` pending: their items are stale, and whoever renders next renders them.
    async fn mark_pending(conn: &mut Conn, integration_id: &str, ids: &[String]) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO rendered (integration_id, id, scope_version, body) SELECT CAST($1 AS TEXT), t.id, 0, NULL FROM ",
            text_rows!("t": "$2" as "id"),
            " WHERE true ON CONFLICT (integration_id, id) DO UPDATE SET body = NULL WHERE rendered.body IS NOT NULL"
        ))
        .bind(integration_id)
        .bind(str_list(ids)?)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Every mirror write's step before its commit (see `crate::rendering`): the items the
    /// write changed are rendered anew in its transaction with the run's renderer, with items
    /// left pending by earlier writes, up to `RENDER_BATCH`; what does not fit, or everything
    /// without a renderer, is marked pending.
    ///
    /// A run that renders at its end (`RunWrite::render_at_end`) only makes pending the
    /// existing renderings the write changes: its own records it renders later, all at once.
    pub(crate) async fn after_write(
        conn: &mut Conn,
        run: &RunWrite,
        touched: &[String],
        changed: &[String],
    ) -> Result<(), StoreError> {
        let (integration_id, hook) = (run.integration_id.as_str(), run.renderer.as_ref());
        if run.render_at_end {
            return make_stale(conn, integration_id, touched, changed).await;
        }
        let limit = usize::try_from(crate::RENDER_BATCH).unwrap_or(usize::MAX);
        let mut ids = if touched.is_empty() && changed.is_empty() {
            Vec::new()
        } else {
            affected(&mut *conn, integration_id, touched, changed).await?
        };
        let Some(hook) = hook else {
            if !ids.is_empty() {
                mark_pending(conn, integration_id, &ids).await?;
            }
            return Ok(());
        };
        if ids.len() > limit {
            let rest = ids.split_off(limit);
            mark_pending(&mut *conn, integration_id, &rest).await?;
        }
        let room = i64::try_from(limit - ids.len()).unwrap_or(0);
        if room > 0 {
            ids.extend(pending(&mut *conn, integration_id, room).await?);
            ids.sort_unstable();
            ids.dedup();
        }
        render(conn, integration_id, hook, &ids).await?;
        Ok(())
    }

    /// Renders up to `limit` pending items of the integration with `hook`, reading through
    /// `conn` (the caller's transaction, holding the write lock), and returns how many it
    /// settled.
    pub(crate) async fn render_pending(
        conn: &mut Conn,
        integration_id: &str,
        hook: &RenderHook,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let ids = pending(&mut *conn, integration_id, limit).await?;
        render(conn, integration_id, hook, &ids).await?;
        Ok(ids.len() as u64)
    }

    /// The next `limit` records after `after` (by id): the live ones among them without a
    /// ready rendering, and the window's last id (`None`: no record follows `after`). A read,
    /// outside any write transaction: the caller renders what it found under the write lock,
    /// where `render` reads them again.
    pub(crate) async fn unrendered_window(
        conn: &mut Conn,
        integration_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let window: Vec<(String, bool)> = sqlx::query_as(concat!(
            "SELECT id, remote_deleted_at IS NULL AND ",
            ready_rendering!(),
            " IS NULL ",
            "FROM records WHERE integration_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(integration_id)
        .bind(after.unwrap_or(BEFORE_EVERY_ID))
        .bind(limit)
        .fetch_all(conn)
        .await?;
        let end = window.last().map(|(id, _)| id.clone());
        let missing = window.into_iter().filter(|(_, missing)| *missing).map(|(id, _)| id).collect();
        Ok((missing, end))
    }

    /// [`unrendered_window`] under the write lock, where what it finds is rendered at once: the
    /// records themselves come back whole with the window, in the same index scan, so they are
    /// not looked up a second time. The other records of the window cost only their ids.
    pub(crate) async fn unrendered_records(
        conn: &mut Conn,
        integration_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<StoredRecord>, Option<String>), StoreError> {
        let window = sqlx::query(concat!(
            "SELECT w.missing, w.id, w.model, w.remote_id, w.parent_id, CASE WHEN w.missing THEN w.data END AS data, ",
            "CASE WHEN w.missing THEN ",
            remote_data_text!(),
            " END AS remote_data, w.remote_created_at, w.changed_at, w.updated_at, w.remote_deleted_at, w.scope_version ",
            "FROM (SELECT records.*, remote_deleted_at IS NULL AND ",
            ready_rendering!(),
            " IS NULL AS missing ",
            "FROM records WHERE integration_id = $1 AND id > $2 ORDER BY id LIMIT $3) w ORDER BY w.id"
        ))
        .bind(integration_id)
        .bind(after.unwrap_or(BEFORE_EVERY_ID))
        .bind(limit)
        .fetch_all(conn)
        .await?;
        let end = match window.last() {
            Some(row) => Some(row.try_get::<String, _>("id")?),
            None => None,
        };
        let mut missing = Vec::new();
        for row in &window {
            if row.try_get::<bool, _>("missing")? {
                missing.push(rows::record(row)?);
            }
        }
        Ok((missing, end))
    }

    async fn pending(conn: &mut Conn, integration_id: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM rendered WHERE integration_id = $1 AND body IS NULL ORDER BY id LIMIT $2",
        )
        .bind(integration_id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
        Ok(ids)
    }

    /// Renders the items of `ids` and stores them with their dependencies; an id whose record
    /// is gone or deleted loses its item (the read API shows no deleted record from one).
    pub(crate) async fn render(
        conn: &mut Conn,
        integration_id: &str,
        hook: &RenderHook,
        ids: &[String],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let integration = integrations::integration_on(&mut *conn, integration_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
        let renderings = read_and_render(&mut *conn, &integration, hook, ids).await?;
        store(conn, integration_id, integration.scope_version, ids, &renderings).await
    }

    /// The items of the live records among `ids`, rendered from what `conn` sees.
    pub(crate) async fn read_and_render(
        conn: &mut Conn,
        integration: &Integration,
        hook: &RenderHook,
        ids: &[String],
    ) -> Result<Vec<Rendering>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = sqlx::query(concat!(
            "SELECT model, id, remote_id, parent_id, data, ",
            remote_data_text!(),
            " AS remote_data, remote_created_at, changed_at, updated_at, remote_deleted_at, scope_version ",
            "FROM records WHERE integration_id = $1 AND remote_deleted_at IS NULL AND id ",
            in_list!("$2"),
            " ORDER BY id"
        ))
        .bind(&integration.id)
        .bind(str_list(ids)?)
        .fetch_all(&mut *conn)
        .await?;
        let live = found.iter().map(rows::record).collect::<Result<Vec<_>, _>>()?;
        render_records(conn, integration, hook, live).await
    }

    /// The items of `live` (live records of `integration`), reading what they nest through
    /// `conn`.
    pub(crate) async fn render_records(
        conn: &mut Conn,
        integration: &Integration,
        hook: &RenderHook,
        live: Vec<StoredRecord>,
    ) -> Result<Vec<Rendering>, StoreError> {
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let reads = TxReads {
            conn: Mutex::new(conn),
        };
        hook.0.render(integration, &reads, live).await
    }

    /// Stores `renderings` (of the live records among `ids`, rendered under `scope_version`)
    /// with their dependencies, in place of those of every id.
    pub(crate) async fn store(
        conn: &mut Conn,
        integration_id: &str,
        scope_version: i64,
        ids: &[String],
        renderings: &[Rendering],
    ) -> Result<(), StoreError> {
        let mut rendered = Vec::with_capacity(renderings.len());
        let mut bodies = Vec::with_capacity(renderings.len());
        let mut dep_sources = Vec::new();
        let mut dep_dependents = Vec::new();
        for r in renderings {
            rendered.push(r.id.as_str());
            bodies.push(r.body.as_str());
            for source in &r.deps {
                dep_sources.push(source.as_str());
                dep_dependents.push(r.id.as_str());
            }
        }
        // Every id loses its old dependencies: a rendered one gets its new set below, one
        // without an item (gone, deleted) has none.
        sqlx::query(concat!(
            "DELETE FROM render_deps WHERE integration_id = $1 AND dependent_id ",
            in_list!("$2")
        ))
        .bind(integration_id)
        .bind(str_list(ids)?)
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
        if !rendered.is_empty() {
            sqlx::query(concat!(
                "INSERT INTO rendered (integration_id, id, scope_version, body) SELECT CAST($1 AS TEXT), b.id, $4, b.body FROM ",
                text_rows!("b": "$2" as "id", "$3" as "body"),
                " WHERE true ON CONFLICT (integration_id, id) DO UPDATE SET body = excluded.body, ",
                "scope_version = excluded.scope_version"
            ))
            .bind(integration_id)
            .bind(str_list(&rendered)?)
            .bind(str_list(&bodies)?)
            .bind(scope_version)
            .execute(&mut *conn)
            .await?;
        }
        let kept: std::collections::HashSet<&str> = rendered.iter().copied().collect();
        let dropped: Vec<&str> = ids.iter().map(String::as_str).filter(|id| !kept.contains(id)).collect();
        if !dropped.is_empty() {
            sqlx::query(concat!("DELETE FROM rendered WHERE integration_id = $1 AND id ", in_list!("$2")))
                .bind(integration_id)
                .bind(str_list(&dropped)?)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
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
