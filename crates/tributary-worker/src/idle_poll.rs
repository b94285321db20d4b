//! How an idle worker keeps asking Redis for jobs.
//!
//! apalis-redis fetches again at once while jobs keep coming, but after an empty fetch it parks
//! until something wakes it, and without a poll strategy that is only its 30 s heartbeat: a due
//! DELTA would wait that long. apalis's own `IntervalStrategy` loses wake-ups: when its timer
//! fires it arms the next one without polling it, so if the backend then parks without a
//! request in flight (an empty fetch that completes within the same poll), nothing is left to
//! wake the worker and it sleeps until the next heartbeat. Seen in the fleet tests as DELTAs
//! picked up 30 s late. This strategy polls the next timer as soon as it arms it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};
use tokio::time::Sleep;

pub(crate) struct IdlePoll {
    every: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl IdlePoll {
    pub(crate) fn new(every: Duration) -> Self {
        Self { every, timer: None }
    }
}

impl PollStrategy for IdlePoll {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let every = self.every;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let mut next = Box::pin(tokio::time::sleep(every));
        // Registers this task's waker with the new timer: a wake-up is always pending.
        let _ = next.as_mut().poll(cx);
        self.timer = Some(next);
        Poll::Ready(Some(()))
    }
}
