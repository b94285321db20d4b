//! Deletion candidates are confirmed at the source before the sweep marks them (invariant I1).
//!
//! A complete listing is not proof of absence. Tools page by offset or page number (Personio
//! v1, BambooHR) and change while a run reads them: when records the run has already passed
//! are deleted, every later record moves up and the next page starts past records the run
//! never saw. Those live records look exactly like deletions. (Greenhouse Harvest v3 pages by
//! cursor, but a record can still be missed by a listing that raced a change, and a listing
//! that failed half-way proves nothing.) So every
//! candidate (a live record of a swept model that the run did not see) is confirmed first:
//!
//! 1. by the tool's single-record endpoint where the connector has one
//!    ([`Connector::lookup`]): "not found" is proof; a record that is there was merely skipped,
//!    and is written like any page (so it is seen, and any change to it lands);
//! 2. otherwise, or when there are too many candidates to look up one by one, by a second
//!    complete listing of the stream: a candidate is marked only if this pass misses it too
//!    (after which the remaining few are looked up where the tool allows it).
//!
//! Candidates that cannot be confirmed (the tool failed while we asked) are kept live and
//! counted on the run (`unconfirmed`); the next complete run tries again. Confirmation is
//! budgeted like every request of the run (the same client, rate budget and retries), and a
//! pause or crash during it loses nothing: whatever it wrote is already "seen", and a resumed
//! run simply confirms what is still a candidate.

use std::collections::{BTreeMap, HashSet};

use tributary_model::{IdGen, Model};
use tributary_source::{RecordRef, SourceError, Stream};
use tributary_store::DeletionCandidate;

use crate::engine::{Pass, StreamEnd, Tally};
use crate::{EngineError, Signal, SyncEngine, prepare_record};

/// More candidates than this in one stream are confirmed by another listing first: past a
/// few hundred single requests (at a typical 10 requests/s) a listing costs less, and a mass
/// disappearance (a tool answering empty lists) is not worth thousands of lookups.
pub(crate) const LOOKUP_LIMIT: usize = 500;

/// What the sweep may mark.
#[derive(Debug, Default)]
pub(crate) struct Confirmation {
    /// Record ids confirmed absent at the source.
    pub confirmed: Vec<String>,
    /// Candidates left live because the source could not answer for them.
    pub unconfirmed: i64,
}

impl SyncEngine {
    /// Confirms this run's deletion candidates (see the module docs). `Err(signal)`: the run was
    /// asked to stop at a page boundary of a verification listing.
    pub(crate) async fn confirm_deletions(
        &self,
        pass: &Pass<'_>,
        streams: &[Stream],
        models: &[Model],
        tally: &mut Tally,
    ) -> Result<Result<Confirmation, Signal>, EngineError> {
        let write = pass.write;
        let candidates = self.store().deletion_candidates(write, models).await?;
        let mut confirmation = Confirmation::default();
        if candidates.is_empty() {
            return Ok(Ok(confirmation));
        }
        tracing::info!(run_id = %write.run_id, candidates = candidates.len(), "confirming deletion candidates at the source");
        for (stream, pending) in by_stream(streams, candidates) {
            match self.confirm_stream(pass, stream, pending, tally).await? {
                Ok(StreamConfirmation { confirmed, unconfirmed }) => {
                    confirmation.confirmed.extend(confirmed);
                    confirmation.unconfirmed += unconfirmed;
                }
                Err(signal) => return Ok(Err(signal)),
            }
        }
        Ok(Ok(confirmation))
    }

    async fn confirm_stream(
        &self,
        pass: &Pass<'_>,
        stream: &Stream,
        mut pending: Vec<DeletionCandidate>,
        tally: &mut Tally,
    ) -> Result<Result<StreamConfirmation, Signal>, EngineError> {
        let (write, connector) = (pass.write, pass.connector);
        let mut confirmed = Vec::new();
        let mut relisted = false;
        let unconfirmed = |pending: &[DeletionCandidate], error: &SourceError| {
            tracing::warn!(run_id = %write.run_id, stream = stream.name, candidates = pending.len(), %error,
                "deletion candidates could not be confirmed; they stay live until a later run confirms them");
            pending.len() as i64
        };
        while !pending.is_empty() {
            if pending.len() <= LOOKUP_LIMIT {
                let refs: Vec<RecordRef> = pending.iter().map(|c| (c.model, c.remote_id.clone())).collect();
                let lookup = match connector.lookup(stream, &refs).await {
                    Ok(lookup) => lookup,
                    Err(e) if e.is_auth() => return Err(e.into()),
                    Err(e) => {
                        let n = unconfirmed(&pending, &e);
                        return Ok(Ok(StreamConfirmation {
                            confirmed,
                            unconfirmed: n,
                        }));
                    }
                };
                let found: HashSet<RecordRef> = lookup.found.iter().map(|r| (r.model, r.remote_id.clone())).collect();
                let unchecked: HashSet<RecordRef> = lookup.unchecked.into_iter().collect();
                if !lookup.found.is_empty() {
                    self.write_found(pass, stream, lookup.found, tally).await?;
                }
                let mut still = Vec::new();
                for candidate in pending {
                    let key = (candidate.model, candidate.remote_id.clone());
                    if found.contains(&key) {
                        continue; // skipped by the listing, not deleted: written above
                    }
                    if unchecked.contains(&key) && !relisted {
                        still.push(candidate);
                    } else {
                        // The tool said it does not exist, or two complete listings missed it.
                        confirmed.push(candidate.id);
                    }
                }
                pending = still;
                if pending.is_empty() {
                    break;
                }
            } else if relisted {
                confirmed.extend(pending.into_iter().map(|c| c.id));
                break;
            }
            // Another complete listing of the stream: what it returns is written and seen;
            // what it misses as well stays a candidate.
            tracing::info!(run_id = %write.run_id, stream = stream.name, candidates = pending.len(), "listing the stream again to confirm deletions");
            let end = self.relist_stream(pass, stream, tally).await;
            match end {
                Ok(StreamEnd::Done) => {}
                Ok(StreamEnd::Stopped(signal)) => return Ok(Err(signal)),
                Err(EngineError::Source(e)) if !e.is_auth() => {
                    let n = unconfirmed(&pending, &e);
                    return Ok(Ok(StreamConfirmation {
                        confirmed,
                        unconfirmed: n,
                    }));
                }
                Err(e) => return Err(e),
            }
            relisted = true;
            let models: Vec<Model> = stream.models.to_vec();
            let still: HashSet<String> = self
                .store()
                .deletion_candidates(write, &models)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            pending.retain(|c| still.contains(&c.id));
        }
        Ok(Ok(StreamConfirmation {
            confirmed,
            unconfirmed: 0,
        }))
    }

    /// Writes records a lookup found, like a page of the stream (scope applied, hashed, fenced),
    /// without moving the checkpoint.
    async fn write_found(
        &self,
        pass: &Pass<'_>,
        stream: &Stream,
        found: Vec<tributary_model::SourceRecord>,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let integration = pass.integration;
        let ids = IdGen::new(integration.id.clone());
        let records = found
            .into_iter()
            .filter_map(|r| prepare_record(r, &integration.scope_config, &ids, pass.connector.as_ref()))
            .collect();
        let out = self.write_page(pass, records, tally, 0).await?;
        tracing::info!(run_id = %pass.write.run_id, stream = stream.name, updated = out.updated, unchanged = out.unchanged,
            "deletion candidates still exist at the source: the listing had skipped them");
        Ok(())
    }
}

struct StreamConfirmation {
    confirmed: Vec<String>,
    unconfirmed: i64,
}

/// Candidates grouped by the first stream that yields their model, in sync order.
fn by_stream(streams: &[Stream], candidates: Vec<DeletionCandidate>) -> Vec<(&Stream, Vec<DeletionCandidate>)> {
    let mut groups: BTreeMap<usize, Vec<DeletionCandidate>> = BTreeMap::new();
    for candidate in candidates {
        if let Some(index) = streams.iter().position(|s| s.models.contains(&candidate.model)) {
            groups.entry(index).or_default().push(candidate);
        }
    }
    groups.into_iter().map(|(i, c)| (&streams[i], c)).collect()
}
