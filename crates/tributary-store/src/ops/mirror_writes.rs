//! Mirror writes: fenced, one transaction each: page writes, deletions (the sweep after a
//! complete run, a model disabled by scope) and scope rewrites. A page's upsert is
//! `crate::ops::pages`; its edge work and bookkeeping, one statement each on Postgres, are
//! `backend::pages`.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use serde_json::Value;
use tributary_model::{Model, Timestamp};

use crate::codec::parse_model;
use crate::ops::run_queries::open_states;
use crate::page::{self, Existing};
use crate::{
    ChangeKind, DeletionCandidate, Integration, MirrorWrites, PageBatch, RENDER_LOCK_HOLD, RenderHook, RenderSweep,
    Rendering, RunWrite, StoreError, StoredRecord, Sweep, WriteOutcome, clock, joins,
};

per_backend! {
    with [change_log, dependents, events, integrations, pages, rendered]

    use sqlx::Row as _;

    #[async_trait]
    impl MirrorWrites for Store {
        async fn apply_pages(&self, run: &RunWrite, batch: PageBatch) -> Result<WriteOutcome, StoreError> {
            let outcome = write_page(&self.pool, run, batch).await?;
            backend::page_written(self, &outcome);
            Ok(outcome)
        }

        async fn restart_pass(&self, run: &RunWrite, checkpoint: &Value, scope_version: i64) -> Result<(), StoreError> {
            let (mut tx, current) = begin_fenced_scope(&self.pool, &run.integration_id, run.fence).await?;
            page::check_scope(run, scope_version, current, None)?;
            let done = sqlx::query(concat!(
                "UPDATE sync_runs SET checkpoint = $3, scope_version = $4 WHERE id = $1 AND integration_id = $2 AND ",
                open_states!()
            ))
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .bind(json(checkpoint)?)
            .bind(scope_version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("open run {}", run.run_id)));
            }
            tx.commit().await?;
            Ok(())
        }

        /// Rows a complete pass did not rewrite under the current scope (the tool no longer
        /// lists them), for rewriting them stripped: so a disabled value is not kept, deleted
        /// rows included.
        async fn records_before_scope(
            &self,
            integration_id: &str,
            scope_version: i64,
            after_id: Option<&str>,
            limit: i64,
        ) -> Result<Vec<StoredRecord>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT model, id, remote_id, parent_id, data, ",
                remote_data_text!(),
                " AS remote_data, remote_created_at, changed_at, updated_at, remote_deleted_at, scope_version ",
                "FROM records WHERE integration_id = $1 AND scope_version < $2 ",
                "AND id > $3 ORDER BY id LIMIT $4"
            ))
            .bind(integration_id)
            .bind(scope_version)
            .bind(after_id.unwrap_or(crate::ops::rendered::BEFORE_EVERY_ID))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::record).collect()
        }

        async fn restrip_records(
            &self,
            run: &RunWrite,
            scope_version: i64,
            records: &[StoredRecord],
        ) -> Result<u64, StoreError> {
            let (mut tx, current) = begin_fenced_scope(&self.pool, &run.integration_id, run.fence).await?;
            page::check_scope(run, scope_version, current, None)?;
            let mut rewritten = 0;
            for r in records {
                // Only a row still older: a page of this version may have rewritten it meanwhile.
                let done = sqlx::query(concat!(
                    "UPDATE records SET data = $4, remote_data = ",
                    jsonb!("$5"),
                    ", scope_version = $6 ",
                    "WHERE integration_id = $1 AND model = $2 AND id = $3 AND scope_version < $6"
                ))
                .bind(&run.integration_id)
                .bind(r.model.as_str())
                .bind(&r.id)
                .bind(json(&r.data)?)
                .bind(r.remote_data.as_ref().map(|raw| raw.get()))
                .bind(scope_version)
                .execute(&mut *tx)
                .await?;
                rewritten += done.rows_affected();
            }
            let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
            keep_rendered(&mut tx, run, &ids, &ids).await?;
            tx.commit().await?;
            Ok(rewritten)
        }

        /// The records a sweep would mark: live records of `models` that no run overlapping
        /// this one saw and that nothing wrote since this run started (invariant I1).
        ///
        /// "Saw": this run's pages, plus the pages of every run of the integration that started
        /// at or after it — a delta (or another sync) that ran meanwhile proves a record still
        /// exists even if this run's listing missed it. "Wrote since": `changed_at >=
        /// started_at` means some writer (that delta, an inbound webhook) produced the record
        /// after our listing began. How the set difference is computed is the dialect's
        /// (`unseen!`, `unseen_records!`).
        async fn deletion_candidates(&self, run: &RunWrite, models: &[Model]) -> Result<Vec<DeletionCandidate>, StoreError> {
            let mut conn = self.pool.acquire().await?;
            let started_at = run_started_at(&mut conn, run).await?;
            let model_names: Vec<&str> = models.iter().map(|m| m.as_str()).collect();
            let rows = sqlx::query(concat!(
                unseen!(),
                "SELECT model, id, remote_id FROM records WHERE ",
                unseen_records!(),
                "ORDER BY model, id"
            ))
            .bind(&run.integration_id)
            .bind(&run.run_id)
            .bind(time(started_at))
            .bind(strings(&model_names)?)
            .bind(opt_strings(None)?)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(DeletionCandidate {
                        model: parse_model(row.try_get("model")?)?,
                        id: row.try_get("id")?,
                        remote_id: row.try_get("remote_id")?,
                    })
                })
                .collect()
        }

        /// Marks deleted the confirmed ids that are still candidates when this transaction runs
        /// (the same rules as `deletion_candidates`, re-checked under the write lock), and
        /// stores the run's count of unconfirmed candidates.
        async fn sweep_deletions(&self, run: &RunWrite, sweep: &Sweep<'_>) -> Result<WriteOutcome, StoreError> {
            let integration_id = run.integration_id.as_str();
            let mut tx = begin_fenced(&self.pool, integration_id, run.fence).await?;
            let now = clock::now();
            let started_at = run_started_at(&mut tx, run).await?;
            let model_names: Vec<&str> = sweep.models.iter().map(|m| m.as_str()).collect();
            let marked = sqlx::query(concat!(
                unseen!(),
                "UPDATE records SET remote_deleted_at = $6, changed_at = $6, updated_at = $6 WHERE ",
                unseen_records!(),
                "RETURNING model, id, join_digest"
            ))
            .bind(integration_id)
            .bind(&run.run_id)
            .bind(time(started_at))
            .bind(strings(&model_names)?)
            .bind(opt_strings(Some(sweep.confirmed))?)
            .bind(time(now))
            .fetch_all(&mut *tx)
            .await?;
            let deleted = marked
                .iter()
                .map(|row| {
                    Ok((
                        parse_model(row.try_get("model")?)?,
                        row.try_get::<String, _>("id")?,
                        row.try_get::<Option<String>, _>("join_digest")?,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let outcome = after_marking(&mut tx, run, deleted, now).await?;
            sqlx::query("UPDATE sync_runs SET unconfirmed_deletions = $3 WHERE id = $1 AND integration_id = $2")
                .bind(&run.run_id)
                .bind(integration_id)
                .bind(sweep.unconfirmed)
                .execute(&mut *tx)
                .await?;
            // The seen ids of finished runs have served their purpose. This run's own rows stay
            // until a later sweep: should the engine sweep again (another set of models) before
            // finishing, they must still protect what this run saw. Open runs keep theirs for
            // their own sweep.
            sqlx::query(concat!(
                "DELETE FROM run_seen WHERE integration_id = $1 AND run_id <> $2 AND run_id IN ",
                "(SELECT id FROM sync_runs WHERE integration_id = $1 AND state NOT IN ('QUEUED', 'RUNNING', 'PAUSED'))"
            ))
            .bind(integration_id)
            .bind(&run.run_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(outcome)
        }

        /// Marks every live record of `model` deleted: the model was disabled by scope (I6).
        async fn delete_model(&self, run: &RunWrite, model: Model) -> Result<WriteOutcome, StoreError> {
            let integration_id = run.integration_id.as_str();
            let mut tx = begin_fenced(&self.pool, integration_id, run.fence).await?;
            let now = clock::now();
            let marked: Vec<(String, Option<String>)> = sqlx::query_as(concat!(
                "UPDATE records SET remote_deleted_at = $3, changed_at = $3, updated_at = $3 ",
                "WHERE integration_id = $1 AND model = $2 AND remote_deleted_at IS NULL RETURNING id, join_digest"
            ))
            .bind(integration_id)
            .bind(model.as_str())
            .bind(time(now))
            .fetch_all(&mut *tx)
            .await?;
            let deleted = marked.into_iter().map(|(id, digest)| (model, id, digest)).collect();
            let outcome = after_marking(&mut tx, run, deleted, now).await?;
            tx.commit().await?;
            Ok(outcome)
        }

        async fn render_pending(&self, run: &RunWrite, limit: i64) -> Result<u64, StoreError> {
            let Some(hook) = &run.renderer else {
                return Ok(0);
            };
            let mut tx = begin_fenced(&self.pool, &run.integration_id, run.fence).await?;
            let settled = rendered::render_pending(&mut tx, &run.integration_id, hook, limit).await?;
            tx.commit().await?;
            Ok(settled)
        }

        async fn render_unrendered(
            &self,
            run: &RunWrite,
            after: Option<&str>,
            limit: i64,
        ) -> Result<RenderSweep, StoreError> {
            let Some(hook) = &run.renderer else {
                return Ok(RenderSweep::default());
            };
            // Looking for what to render takes no lock: a mirror that is all rendered is only
            // read, a window at a time, and the gateway's reads of it never wait.
            let (missing, next) = {
                let mut conn = self.pool.acquire().await?;
                rendered::unrendered_window(&mut conn, &run.integration_id, after, limit).await?
            };
            if missing.is_empty() {
                return Ok(RenderSweep { rendered: 0, next });
            }
            render_windows(&self.pool, run, hook, after, limit).await
        }
    }

    /// How long rendering under the write lock waits for each of the two connections that let
    /// it read beside its transaction: opening one takes a few milliseconds.
    const SPARE_CONNECTION_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

    /// A window's records that have no ready rendering, and the last id it covered.
    struct Fetched {
        records: Vec<StoredRecord>,
        next: Option<String>,
    }

    /// A window's renderings, ready to store in place of those of `ids`.
    struct Rendered {
        ids: Vec<String>,
        renderings: Vec<Rendering>,
    }

    async fn fetch(conn: &mut Conn, integration_id: &str, after: Option<&str>, limit: i64) -> Result<Fetched, StoreError> {
        let (records, next) = rendered::unrendered_records(conn, integration_id, after, limit).await?;
        Ok(Fetched { records, next })
    }

    async fn render(
        conn: &mut Conn,
        integration: &Integration,
        hook: &RenderHook,
        records: Vec<StoredRecord>,
    ) -> Result<Rendered, StoreError> {
        let ids = records.iter().map(|r| r.id.clone()).collect();
        let renderings = rendered::render_records(conn, integration, hook, records).await?;
        Ok(Rendered { ids, renderings })
    }

    /// Renders the windows after `after` under the write lock, in one transaction, until a
    /// window has nothing to render or [`RENDER_LOCK_HOLD`] has passed, and says how many it
    /// rendered and where the next call goes on.
    ///
    /// Where the backend allows it, the work is a pipeline over three connections: one reads
    /// a window's records, one renders the window before it (the renderer reads what those
    /// records nest), and the transaction stores the one before that. The records cannot
    /// change while the lock is held, so reading them beside the transaction is safe; and the
    /// worker's rendering, the reads and the writes then share both cores instead of taking
    /// turns (a first sync renders every record this way).
    async fn render_windows(
        pool: &Pool,
        run: &RunWrite,
        hook: &RenderHook,
        after: Option<&str>,
        limit: i64,
    ) -> Result<RenderSweep, StoreError> {
        let started = std::time::Instant::now();
        let integration_id = run.integration_id.as_str();
        let (mut tx, scope_version) = begin_fenced_scope(pool, integration_id, run.fence).await?;
        let integration = integrations::integration_on(&mut tx, integration_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
        // Where to read next, if the window after `window` is worth reading while the lock is
        // still ours to hold.
        let go_on = |window: &Fetched| {
            (!window.records.is_empty() && started.elapsed() < RENDER_LOCK_HOLD)
                .then(|| window.next.clone())
                .flatten()
        };
        let mut sweep = RenderSweep::default();
        // Waits only briefly for connections while holding the lock (every connection of the
        // pool could be another integration's writer, waiting for one too): without two, the
        // transaction does every step itself.
        let spare = if READS_BESIDE_A_WRITE {
            let spare = || async { tokio::time::timeout(SPARE_CONNECTION_WAIT, pool.acquire()).await.ok()?.ok() };
            match spare().await {
                Some(one) => spare().await.map(|two| (one, two)),
                None => None,
            }
        } else {
            None
        };
        let Some((mut reader, mut renderer)) = spare else {
            let mut after = after.map(str::to_owned);
            loop {
                let window = fetch(&mut tx, integration_id, after.as_deref(), limit).await?;
                sweep.next = window.next.clone();
                let following = go_on(&window);
                let done = render(&mut tx, &integration, hook, window.records).await?;
                rendered::store(&mut tx, integration_id, scope_version, &done.ids, &done.renderings).await?;
                sweep.rendered += done.ids.len() as u64;
                match following {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            tx.commit().await?;
            return Ok(sweep);
        };
        let mut to_render = Some(fetch(&mut reader, integration_id, after, limit).await?);
        let mut to_store: Option<Rendered> = None;
        while to_render.is_some() || to_store.is_some() {
            let following = to_render.as_ref().and_then(&go_on);
            if let Some(window) = &to_render {
                sweep.next = window.next.clone();
            }
            let (stored, rendered, fetched) = tokio::join!(
                async {
                    match &to_store {
                        Some(done) => {
                            rendered::store(&mut tx, integration_id, scope_version, &done.ids, &done.renderings).await
                        }
                        None => Ok(()),
                    }
                },
                async {
                    match to_render.take() {
                        Some(window) => render(&mut renderer, &integration, hook, window.records).await.map(Some),
                        None => Ok(None),
                    }
                },
                async {
                    match &following {
                        Some(next) => fetch(&mut reader, integration_id, Some(next), limit).await.map(Some),
                        None => Ok(None),
                    }
                },
            );
            stored?;
            sweep.rendered += to_store.as_ref().map_or(0, |done| done.ids.len() as u64);
            to_store = rendered?;
            to_render = fetched?;
        }
        tx.commit().await?;
        Ok(sweep)
    }

    /// Every mirror write's last step before its commit: marks pending the renderings of
    /// `touched` and of what depends on `changed`, then renders what is pending with the run's
    /// renderer, in the write's transaction (see `crate::rendering`).
    async fn keep_rendered(conn: &mut Conn, run: &RunWrite, touched: &[String], changed: &[String]) -> Result<(), StoreError> {
        rendered::after_write(conn, run, touched, changed).await
    }

    /// Consecutive pages of a run, written atomically with the checkpoint after the last, in a
    /// fixed number of statements whatever their number and size.
    async fn write_page(pool: &Pool, run: &RunWrite, batch: PageBatch) -> Result<WriteOutcome, StoreError> {
        let integration_id = run.integration_id.as_str();
        let (mut tx, current) = begin_fenced_scope(pool, integration_id, run.fence).await?;
        // Under the write lock, in this transaction: a scope change cannot slip between check
        // and write.
        let pass: Option<i64> = sqlx::query_scalar("SELECT scope_version FROM sync_runs WHERE id = $1")
            .bind(&run.run_id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
        page::check_scope(run, batch.scope_version, current, pass)?;
        // Only now, holding the write lock, is the write's instant taken (invariant I3).
        let now = clock::now();

        let ids: Vec<&str> = batch
            .pages
            .iter()
            .flatten()
            .map(|r| r.id.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let existing = existing_records(&mut tx, integration_id, &ids).await?;
        let plan = page::plan_pages(batch.pages, existing, batch.scope_version);

        if !plan.restamped.is_empty() {
            sqlx::query(concat!(
                "UPDATE records SET scope_version = $3 WHERE integration_id = $1 AND id ",
                in_list!("$2")
            ))
            .bind(integration_id)
            .bind(str_list(&plan.restamped)?)
            .bind(batch.scope_version)
            .execute(&mut *tx)
            .await?;
        }
        if !plan.writes.is_empty() {
            pages::upsert(
                &mut tx,
                integration_id,
                &plan.writes,
                &plan.join_digests,
                batch.scope_version,
                now,
            )
            .await?;
            let changed = plan.written_ids();
            backend::pages::replace_edges(&mut tx, integration_id, &changed, &plan.replaced_ids(), &plan.new_edges(), now)
                .await?;
        }
        // Written records, their parents (whose nested lists changed) and restamped ones (their
        // rendering was made under the old scope) are rendered anew; so is whatever nests a
        // written record.
        let changed = plan.written_ids();
        let mut touched = changed.clone();
        touched.extend(plan.writes.iter().filter_map(|(r, _)| r.parent_id.clone()));
        touched.extend(plan.restamped.iter().cloned());
        keep_rendered(&mut tx, run, &touched, &changed).await?;
        if backend::pages::bookkeeping(&mut tx, run, &plan, &batch.checkpoint, now).await? == 0 {
            // Nothing was committed: the error rolls the transaction back.
            return Err(StoreError::NotFound(format!(
                "run {} of integration {}",
                run.run_id, run.integration_id
            )));
        }
        tx.commit().await?;
        Ok(plan.outcome)
    }

    /// What the page's records are stored as now, for planning the page.
    async fn existing_records(
        conn: &mut Conn,
        integration_id: &str,
        ids: &[&str],
    ) -> Result<HashMap<(Model, String), Existing>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT model, id, content_hash, remote_deleted_at IS NOT NULL AS deleted, join_digest, scope_version ",
            "FROM records WHERE integration_id = $1 AND id ",
            in_list!("$2")
        ))
        .bind(integration_id)
        .bind(str_list(ids)?)
        .fetch_all(conn)
        .await?;
        let mut out = HashMap::with_capacity(found.len());
        for row in found {
            let model = parse_model(row.try_get("model")?)?;
            out.insert(
                (model, row.try_get("id")?),
                Existing {
                    hash: row.try_get("content_hash")?,
                    deleted: row.try_get("deleted")?,
                    join_digest: row.try_get("join_digest")?,
                    scope_version: row.try_get("scope_version")?,
                },
            );
        }
        Ok(out)
    }

    async fn run_started_at(conn: &mut Conn, run: &RunWrite) -> Result<Timestamp, StoreError> {
        let row = sqlx::query("SELECT started_at FROM sync_runs WHERE id = $1 AND integration_id = $2")
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .fetch_optional(conn)
            .await?;
        let row = row.ok_or_else(|| StoreError::NotFound(format!("run {}", run.run_id)))?;
        get_opt_time(&row, "started_at")?.ok_or_else(|| {
            StoreError::Invalid(format!("run {} never started; it cannot sweep", run.run_id))
        })
    }

    /// What every deletion does besides setting `remote_deleted_at`: move the dependents (a
    /// removed employment moves its employee), log the change, count it on the run.
    async fn after_marking(
        conn: &mut Conn,
        run: &RunWrite,
        deleted: Vec<(Model, String, Option<String>)>,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let mut outcome = WriteOutcome {
            deleted: deleted.len() as i64,
            ..WriteOutcome::default()
        };
        if deleted.is_empty() {
            return Ok(outcome);
        }
        let ids: Vec<String> = deleted.iter().map(|(_, id, _)| id.clone()).collect();
        let dependents = dependents::of(conn, &run.integration_id, &ids).await?;
        let bump = crate::page::dependents_to_bump(&ids, dependents, &[]);
        dependents::bump(conn, &run.integration_id, &bump, now).await?;
        keep_rendered(conn, run, &ids, &ids).await?;
        let entries: Vec<(Model, &str, ChangeKind)> = deleted
            .iter()
            .map(|(m, id, _)| (*m, id.as_str(), ChangeKind::Deleted))
            .collect();
        change_log::append(conn, &run.integration_id, &run.run_id, &entries, now).await?;
        sqlx::query("UPDATE sync_runs SET deleted_count = deleted_count + $3 WHERE id = $1 AND integration_id = $2")
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .bind(outcome.deleted)
            .execute(&mut *conn)
            .await?;
        outcome.changed_models = deleted
            .iter()
            .map(|(m, _, _)| *m)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut by_model: std::collections::BTreeMap<Model, crate::ModelCounts> = Default::default();
        for (model, _, _) in &deleted {
            by_model.entry(*model).or_default().deleted += 1;
        }
        outcome.by_model = by_model.into_iter().collect();
        // A deleted row with members removes them from its joins (a NULL digest is unknown).
        let joins: Vec<&str> = deleted
            .iter()
            .flat_map(|(_, _, digest)| joins::removed(digest.as_deref()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        events::note_changed_models(conn, &run.run_id, &run.integration_id, &outcome.changed_models, &joins)
            .await?;
        Ok(outcome)
    }
}
