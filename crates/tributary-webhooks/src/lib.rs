//! Delivers the mirror's outbound webhooks.
//!
//! The mirror writes each event to a transactional outbox, in the transaction of the change it
//! describes, with one delivery per endpoint that takes its type (see the `webhooks` section of
//! `tributary_store::Outbox`). This crate sends them: [`run`] claims due deliveries
//! (`claim_deliveries`, which leases each one to this process), POSTs them, and records every
//! attempt (`record_attempt`) with its outcome.
//!
//! # Guarantees
//!
//! - **At least once.** A claim is a lease: a deliverer that dies mid-attempt (or whose
//!   recording fails) loses nothing, the delivery comes due again when the lease ends. A
//!   receiver may therefore see an event twice; it dedupes on `X-Tributary-Event-Id` (the
//!   payload's `id`), which is the same on every attempt and on redelivery.
//! - **Retries.** Anything but a 2xx answer (including redirects, which are not followed),
//!   a connection error, a timeout (default 10 s over the whole attempt) or a refused target is
//!   a failure. It is retried after an exponential backoff with full jitter (the wait after the
//!   n-th failure is uniform in `[0, min(1 h, 10 s·2ⁿ⁻¹)]`) until 24 h after the event was
//!   created; a failure after that makes the delivery DEAD. DEAD deliveries are sent again only
//!   on request (`Outbox::redeliver`, the operator API); a redelivered event is already
//!   past its window, so it gets one attempt and is DEAD again if that fails.
//! - **Order.** The store hands out one integration's deliveries to one endpoint one at a time,
//!   in event order, so a receiver sees an integration's events in order (a failing event holds
//!   back the later ones of its integration until it is delivered or dead).
//!
//! # The request
//!
//! `POST <endpoint url>` with the event's Kombo-shaped JSON (`{"id", "type", "data"}`) and:
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `User-Agent` | `tributary-webhooks/<version>` |
//! | `X-Kombo-Signature` | base64url, no padding, of HMAC-SHA256(secret, body): Kombo's scheme |
//! | `X-Tributary-Timestamp` | unix seconds when this attempt was signed |
//! | `X-Tributary-Signature` | `t=<timestamp>,v1=<base64url-nopad HMAC-SHA256(secret, "<timestamp>.<body>")>` |
//! | `X-Tributary-Event-Id` | the payload's `id`, stable across attempts |
//! | `X-Tributary-Delivery-Id` | this event's delivery to this endpoint |
//! | `X-Tributary-Attempt` | 1 for the first attempt |
//!
//! Receivers verify with [`verify_headers`] (or by hand, see [`sign`]): check the MAC in
//! constant time, then reject a timestamp more than about 5 minutes from their clock, which
//! makes a captured request useless later; within the window, dedupe on the event id.
//!
//! # Targets
//!
//! Endpoint URLs are http(s) without userinfo. Each attempt resolves the host and refuses
//! link-local and cloud metadata addresses unless `allow_link_local` is set, allows loopback
//! and private networks unless `allow_private_targets` is turned off (self-hosted deployments
//! deliver to their own services), and connects only to addresses that passed: see
//! [`target`]. A refused attempt is recorded as a failed attempt and nothing is sent.

mod backoff;
mod deliverer;
mod error;
pub mod sign;
pub mod target;

pub use backoff::RetryPolicy;
pub use deliverer::{AttemptReport, Deliverer, DelivererConfig, DeliveryStats, EXCERPT_BYTES, USER_AGENT_VALUE, run};
pub use error::WebhookError;
pub use sign::{Signatures, VerifyError, verify_headers};
pub use target::{TargetError, TargetPolicy, check_url};
