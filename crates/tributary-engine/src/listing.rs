//! The run's listing pass: its streams fetched several at a time, their pages written in
//! order, those already waiting when the writer is free together in one transaction.
//!
//! A real tool answers a request in hundreds of milliseconds and allows several requests per
//! second, so one stream after another leaves most of the rate budget unused. Each stream gets
//! a fetcher task; they share the integration's client, so together they stay within its
//! budget. Writes stay serial: every page is one fenced transaction that also stores the
//! checkpoint, which now holds a position per stream (see [`Checkpoint`]).

use std::collections::{HashSet, VecDeque};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument as _;
use tributary_source::{FetchMode, SourceError, Stream};

use crate::engine::{Event, FetchEnd, Fetcher, Listed, Pass, Preparer, Tally};
use crate::policy::{Failure, PageAction, on_page_error};
use crate::{EngineError, Progress, Signal, SyncEngine};

impl SyncEngine {
    /// Lists the enabled `streams` from where `checkpoint` left them, at most
    /// `stream_concurrency` at a time, writing each page as it arrives.
    pub(crate) async fn list_streams(
        &self,
        pass: &Pass<'_>,
        streams: &[Stream],
        mode: FetchMode,
        tally: &mut Tally,
    ) -> Result<Listed, EngineError> {
        let Pass {
            integration,
            write,
            connector,
            control,
        } = *pass;
        let scope = &integration.scope_config;
        let enabled = |s: &Stream| s.models.iter().any(|m| scope.model_enabled(*m));
        let mut errors: Vec<String> = tally
            .checkpoint
            .failed_streams
            .iter()
            .map(|s| format!("{s}: failed earlier in this run"))
            .collect();
        // Streams an earlier execution of this run already finished.
        let mut succeeded = streams
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                enabled(s)
                    && tally.checkpoint.start_of(*i).is_none()
                    && !tally.checkpoint.failed_streams.iter().any(|f| f == s.name)
            })
            .count();
        let mut queue: VecDeque<(usize, Option<Value>)> = VecDeque::new();
        for (index, stream) in streams.iter().enumerate() {
            match tally.checkpoint.start_of(index) {
                // I6: a disabled model is never requested; the stream counts as passed.
                Some(_) if !enabled(stream) => tally.checkpoint.advance(index, None),
                Some(cursor) => queue.push_back((index, cursor)),
                None => {}
            }
        }

        let width = self.config().stream_concurrency.max(1);
        let (tx, mut rx) = mpsc::channel::<Event>(width * self.config().prefetch.max(1));
        // Dropped on every return: the fetchers still running are aborted with it.
        let mut fetchers = JoinSet::new();
        let mut active: HashSet<usize> = HashSet::new();
        let mut failed_now: HashSet<usize> = HashSet::new();
        let mut stopped = false;
        // An event taken from the channel while gathering a batch, handled after its write.
        let mut held: Option<Event> = None;
        loop {
            while active.len() < width && control.signal() == Signal::Continue {
                let Some((index, cursor)) = queue.pop_front() else {
                    break;
                };
                let stream = streams[index].clone();
                let stream_mode = match mode {
                    // Streams the tool cannot filter by "changed since" are small reference
                    // lists: fetched whole, never deleting (a delta never does).
                    FetchMode::Delta { .. } if !stream.supports_since => FetchMode::Full,
                    m => m,
                };
                // The fetcher's pages and their source requests happen in its stream's span,
                // a child of the run's (a spawned task would otherwise start outside any span).
                let span = tracing::info_span!("stream", stream = stream.name, phase = "list");
                fetchers.spawn(
                    Fetcher {
                        index,
                        connector: connector.clone(),
                        stream,
                        cursor,
                        mode: stream_mode,
                        control: control.clone(),
                        max_pages: self.config().max_pages_per_stream,
                        preparer: Preparer::for_integration(integration),
                        tx: tx.clone(),
                    }
                    .run()
                    .instrument(span),
                );
                active.insert(index);
            }
            if active.is_empty() {
                break;
            }
            let event = if let Some(event) = held.take() {
                event
            } else {
                tokio::select! {
                Some(event) = rx.recv() => event,
                Some(joined) = fetchers.join_next() => {
                    // A fetcher that ends normally has sent its `End` already.
                    if let Err(e) = joined
                        && e.is_panic()
                    {
                        return Err(EngineError::Source(SourceError::Config(format!("page fetcher crashed: {e}"))));
                    }
                    continue;
                }
                }
            };
            match event {
                Event::Page { index, page: Ok(page) } => {
                    // The pages already waiting join this one, so the database commits once for
                    // all of them; the checkpoint is the one after the last.
                    let mut last = index;
                    let mut records = page.records.len();
                    tally.checkpoint.advance(index, page.next);
                    let mut pages = vec![page.records];
                    while records < self.config().batch_records {
                        match rx.try_recv() {
                            Ok(Event::Page { index, page: Ok(page) }) => {
                                tally.checkpoint.advance(index, page.next);
                                records += page.records.len();
                                pages.push(page.records);
                                last = index;
                            }
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let stream = &streams[last];
                    let n = pages.len() as i64;
                    let out = self.write_pages(pass, pages, tally, n).await?;
                    control.report(Progress {
                        stream: stream.name.to_owned(),
                        counts: tally.counts,
                    });
                    tracing::debug!(run_id = %write.run_id, stream = stream.name, pages = n, created = out.created, updated = out.updated, unchanged = out.unchanged, "pages committed");
                    if control.signal() == Signal::Cancel {
                        return Ok(Listed::Stopped(Signal::Cancel));
                    }
                }
                Event::Page { index, page: Err(e) } => {
                    let stream = &streams[index];
                    let action = on_page_error(Failure::of(&e), control.retry_after().is_some());
                    match action {
                        PageAction::FailRun => return Err(EngineError::Source(e)),
                        PageAction::PauseForRetry => {
                            return Ok(Listed::RetryLater {
                                stream: stream.name.to_owned(),
                                error: e,
                            });
                        }
                        PageAction::FailStreamAndStop | PageAction::FailStream => {}
                    }
                    errors.push(format!("{}: {e}", stream.name));
                    tally.checkpoint.failed_streams.push(stream.name.to_owned());
                    tally.checkpoint.advance(index, None);
                    failed_now.insert(index);
                    if action == PageAction::FailStreamAndStop {
                        tracing::warn!(run_id = %write.run_id, stream = stream.name, error = %e, "source unavailable; stopping the run");
                        return Ok(Listed::Finished { errors, succeeded });
                    }
                    tracing::warn!(run_id = %write.run_id, stream = stream.name, error = %e, "stream failed");
                }
                Event::End { index, end } => {
                    active.remove(&index);
                    match end {
                        FetchEnd::Done if !failed_now.contains(&index) => succeeded += 1,
                        FetchEnd::Done => {}
                        FetchEnd::Stopped => stopped = true,
                    }
                }
            }
        }
        if stopped || !queue.is_empty() {
            return Ok(Listed::Stopped(control.signal()));
        }
        Ok(Listed::Finished { errors, succeeded })
    }
}
