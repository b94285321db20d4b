//! The fleet's queues: apalis-redis, one queue per sync type.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_redis::{Config, ConnectionManager, RedisStorage};
use async_trait::async_trait;
use redis::Script;
use tributary_lease::ConnectOptions;
use tributary_model::SyncType;

use crate::ApalisConnection;
use crate::job::{ALL_TYPES, queue_suffix};
use crate::{JobQueue, QueueDepth, QueueError, SyncJob};

static DEPTH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/queue_depth.lua")));
static VACUUM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/vacuum_done.lua")));
static PROMOTE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/promote_due.lua")));

/// Jobs pushed, and due jobs promoted, per script call: far below the ~8,000 values a Lua
/// `unpack` takes (see `lua/promote_due.lua`).
const BATCH: usize = 1000;

/// How long finished jobs' data stays in Redis for operators to look at.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);

/// A reconnecting Redis connection for queues and leases alike. Built with
/// [`tributary_lease::connect`]'s longer response timeout: with the redis crate's default of
/// 500 ms a briefly slow Redis makes apalis-redis stop a whole worker pool (see "apalis-redis
/// pitfalls" in docs/ARCHITECTURE.md).
pub async fn connect(url: &str) -> Result<ConnectionManager, QueueError> {
    Ok(tributary_lease::connect(url, &ConnectOptions::default()).await?)
}

/// The three queues `{prefix}:sync-delta`, `{prefix}:sync-full` and `{prefix}:sync-default`.
#[derive(Clone)]
pub struct RedisQueue {
    conn: ConnectionManager,
    /// What apalis-redis itself talks through: `conn`, keeping its one global key under the
    /// prefix.
    apalis: ApalisConnection,
    configs: BTreeMap<&'static str, Config>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field(
                "queues",
                &self
                    .configs
                    .values()
                    .map(|c| c.queue.as_ref().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        let configs = ALL_TYPES
            .iter()
            .map(|t| {
                let suffix = queue_suffix(*t);
                let config = Config::default()
                    .queue(format!("{prefix}:{suffix}"))
                    // A worker is declared dead, and its in-flight jobs re-enqueued, after
                    // missing this many heartbeats (2 × 30 s): sooner would re-run jobs of a
                    // worker that is merely busy, later would leave a dead worker's job idle.
                    .missed_heartbeats(2)
                    // One job per fetch: a sync holds its worker slot for minutes or hours, so
                    // jobs fetched ahead would wait behind it while other workers sit idle.
                    .batch_size(1);
                (suffix, config)
            })
            .collect();
        Self {
            apalis: ApalisConnection::new(conn.clone(), prefix),
            conn,
            configs,
        }
    }

    fn config(&self, sync_type: SyncType) -> &Config {
        &self.configs[queue_suffix(sync_type)]
    }

    /// The apalis backend a worker consumes `sync_type`'s queue through.
    pub fn storage(&self, sync_type: SyncType) -> RedisStorage<SyncJob, ApalisConnection> {
        RedisStorage::new(self.apalis.clone()).with_config(self.config(sync_type).clone())
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Moves every due job of the queue from its scheduled set to its active list, `BATCH` at
    /// a time (see `lua/promote_due.lua` for why apalis-redis cannot be left to do it).
    async fn promote(&self, sync_type: SyncType) -> Result<u64, QueueError> {
        let config = self.config(sync_type);
        let mut conn = self.conn.clone();
        let mut promoted = 0;
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let n: u64 = PROMOTE
                .key(config.scheduled_jobs_set())
                .key(config.active_jobs_list())
                .key(config.signal_list())
                .arg(now)
                .arg(BATCH)
                .invoke_async(&mut conn)
                .await?;
            promoted += n;
            if n < BATCH as u64 {
                return Ok(promoted);
            }
        }
    }
}

#[async_trait]
impl JobQueue for RedisQueue {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn push(&self, jobs: Vec<SyncJob>, delay: Option<Duration>) -> Result<(), QueueError> {
        for sync_type in ALL_TYPES {
            let tasks: Vec<_> = jobs
                .iter()
                .filter(|j| j.sync_type == sync_type)
                .map(|job| {
                    let builder = TaskBuilder::new(job.clone());
                    match delay {
                        Some(d) if !d.is_zero() => builder.run_after(d).build(),
                        _ => builder.build(),
                    }
                })
                .collect();
            if tasks.is_empty() {
                continue;
            }
            let mut storage = self.storage(sync_type);
            let mut tasks = tasks.into_iter().peekable();
            while tasks.peek().is_some() {
                let chunk: Vec<_> = tasks.by_ref().take(BATCH).collect();
                storage
                    .push_all(futures::stream::iter(chunk))
                    .await
                    .map_err(|e| QueueError::Push(e.to_string()))?;
                if delay.is_none() {
                    self.promote(sync_type).await?;
                }
            }
        }
        Ok(())
    }

    async fn promote_due(&self) -> Result<u64, QueueError> {
        let mut promoted = 0;
        for sync_type in ALL_TYPES {
            promoted += self.promote(sync_type).await?;
        }
        Ok(promoted)
    }

    async fn depths(&self) -> Result<Vec<QueueDepth>, QueueError> {
        let mut out = Vec::new();
        let mut conn = self.conn.clone();
        for sync_type in ALL_TYPES {
            let config = self.config(sync_type);
            let (pending, scheduled, running): (u64, u64, u64) = DEPTH
                .key(config.active_jobs_list())
                .key(config.scheduled_jobs_set())
                .key(config.workers_set())
                .key(config.inflight_jobs_set())
                .invoke_async(&mut conn)
                .await?;
            out.push(QueueDepth {
                sync_type,
                queue: config.queue.as_ref().to_owned(),
                pending,
                scheduled,
                running,
            });
        }
        Ok(out)
    }

    async fn vacuum(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let mut removed = 0;
        for sync_type in ALL_TYPES {
            let config = self.config(sync_type);
            let n: u64 = VACUUM
                .key(config.job_data_hash())
                .key(config.job_meta_hash())
                .key(config.done_jobs_set())
                .arg(KEEP_FINISHED.as_secs())
                .invoke_async(&mut conn)
                .await?;
            removed += n;
        }
        Ok(removed)
    }
}
