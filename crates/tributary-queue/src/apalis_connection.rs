//! The Redis connection apalis-redis's queues run on: ours, except for the one script that
//! would write outside `--redis-prefix`.
//!
//! apalis-redis takes every key name from its queue's `Config` (`{queue}:active`,
//! `{queue}:data`, …; our queues are `{prefix}:sync-full` and so on) but one: worker
//! registration also records the queue in `core:apalis:queues:list`, a key named inside its
//! Lua script. Deployments sharing a Redis by prefix must not share (or see) that key, so
//! this connection recognises the script's invocation (`EVALSHA` with its hash) and runs the
//! same script with the registry under the prefix instead (`lua/register_worker.lua`).
//! Every other command passes through unchanged. Should an apalis-redis upgrade change the
//! script, its hash no longer matches and the fleet test that scans Redis for keys outside
//! the prefix fails.

use std::sync::{Arc, LazyLock};

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Arg, Cmd, Pipeline, RedisFuture, Script, Value};

/// SHA-1 of apalis-redis 1.0's `lua/register_worker.lua`, as redis-rs sends it in `EVALSHA`.
const APALIS_REGISTER_WORKER_SHA: &[u8] = b"0d5fbce91e1dcff1121ece41f7169da3c0e39194";

static REGISTER_WORKER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/register_worker.lua")));

/// A [`ConnectionManager`] that keeps apalis-redis's queue registry under the prefix.
#[derive(Clone)]
pub struct ApalisConnection {
    inner: ConnectionManager,
    registry: Arc<str>,
}

impl ApalisConnection {
    pub fn new(inner: ConnectionManager, prefix: &str) -> Self {
        Self {
            inner,
            registry: format!("{prefix}:apalis:queues").into(),
        }
    }
}

/// The keys and arguments of one script call.
#[derive(Debug, PartialEq, Eq)]
struct ScriptCall {
    keys: Vec<Vec<u8>>,
    argv: Vec<Vec<u8>>,
}

/// The call, if `cmd` is an `EVALSHA` of apalis-redis's registration script.
fn register_worker_call(cmd: &Cmd) -> Option<ScriptCall> {
    let mut args = cmd.args_iter().map(|a| match a {
        Arg::Simple(bytes) => Some(bytes),
        _ => None,
    });
    let name = args.next()??;
    if !name.eq_ignore_ascii_case(b"EVALSHA") || args.next()?? != APALIS_REGISTER_WORKER_SHA {
        return None;
    }
    let numkeys: usize = std::str::from_utf8(args.next()??).ok()?.parse().ok()?;
    let rest: Vec<Vec<u8>> = args.map(|a| a.map(<[u8]>::to_vec)).collect::<Option<_>>()?;
    if rest.len() < numkeys {
        return None;
    }
    let (keys, argv) = rest.split_at(numkeys);
    Some(ScriptCall {
        keys: keys.to_vec(),
        argv: argv.to_vec(),
    })
}

impl ConnectionLike for ApalisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match register_worker_call(cmd) {
            Some(ScriptCall { keys, argv }) => Box::pin(async move {
                let mut call = REGISTER_WORKER.prepare_invoke();
                for key in &keys {
                    call.key(key.as_slice());
                }
                call.key(&*self.registry);
                for arg in &argv {
                    call.arg(arg.as_slice());
                }
                call.invoke_async(&mut self.inner).await
            }),
            None => self.inner.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_the_registration_script() {
        let mut call = redis::cmd("EVALSHA");
        call.arg(APALIS_REGISTER_WORKER_SHA)
            .arg(2)
            .arg("p:sync-full:workers")
            .arg("p:sync-full:workers:metadata:w")
            .arg(17)
            .arg("w");
        let ScriptCall { keys, argv } = register_worker_call(&call).expect("recognised");
        assert_eq!(
            keys,
            vec![
                b"p:sync-full:workers".to_vec(),
                b"p:sync-full:workers:metadata:w".to_vec()
            ]
        );
        assert_eq!(argv, vec![b"17".to_vec(), b"w".to_vec()]);

        let mut other = redis::cmd("EVALSHA");
        other.arg("0000000000000000000000000000000000000000").arg(0);
        assert!(register_worker_call(&other).is_none());
        assert!(register_worker_call(redis::cmd("GET").arg("k")).is_none());
    }
}
