//! `holder`: who holds a lease, for operators (a plain read; no script needed).

use crate::{LeaseError, RedisLeases};

impl RedisLeases {
    /// The current holder's owner id and fence, or `None` when the lease is free or expired.
    /// A snapshot: the lease may change hands right after.
    pub async fn holder(&self, integration_id: &str) -> Result<Option<(String, i64)>, LeaseError> {
        let key = self.lease_key(integration_id);
        let mut conn = self.conn.clone();
        let (owner, fence): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(&key)
            .arg("owner")
            .arg("fence")
            .query_async(&mut conn)
            .await?;
        match (owner, fence) {
            (None, None) => Ok(None),
            (Some(owner), Some(fence)) => match fence.parse::<i64>() {
                Ok(fence) => Ok(Some((owner, fence))),
                Err(_) => Err(LeaseError::Corrupt {
                    key,
                    detail: format!("fence {fence:?} is not an integer"),
                }),
            },
            _ => Err(LeaseError::Corrupt {
                key,
                detail: "owner or fence is missing".to_owned(),
            }),
        }
    }
}

impl RedisLeases {
    /// The owner holding each integration's lease, in one round trip (the scheduler checks
    /// thousands of integrations at a time). Like [`RedisLeases::holder`], a snapshot.
    pub async fn holders(&self, integration_ids: &[String]) -> Result<Vec<Option<String>>, LeaseError> {
        if integration_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in integration_ids {
            pipe.hget(self.lease_key(id), "owner");
        }
        let mut conn = self.conn.clone();
        Ok(pipe.query_async(&mut conn).await?)
    }
}
