-- Webhooks: the outbound outbox (events, their deliveries to endpoints, each HTTP attempt) and
-- what inbound webhooks from source tools need (a signing secret, a dedupe table).
--
-- Choices worth knowing:
-- * The outbox is transactional (invariant I7): finish_run, create_integration and
--   delete_integration insert their events and deliveries in the transaction of the change, so
--   an event exists exactly when its change committed. A fenced or failed write rolls its
--   events back with it.
-- * webhook_events and webhook_deliveries carry the integration id as plain text, with NO
--   foreign key to integrations: delete_integration writes `integration-deleted` in the very
--   transaction that removes the integration, and that event (and the sync-finished events
--   before it) must still go out afterwards. Deliveries cascade from their endpoint instead:
--   removing an endpoint drops what was still waiting for it.
-- * Delivery order: deliveries carry a bigserial `seq`. Events of one integration are written
--   under its advisory lock (or, for integration-created, before anything else of it exists),
--   so within an integration seq order is event order; claim_deliveries hands out only the
--   lowest-seq PENDING delivery of each (endpoint, integration), which the
--   (endpoint_id, integration_id, seq) index answers. A claim moves next_attempt_at forward by
--   its lease (FOR UPDATE SKIP LOCKED), so a dead deliverer's delivery comes due again and is
--   not lost; the (state, next_attempt_at) index finds what is due.
-- * Endpoint signing secrets are sealed like integration credentials (XChaCha20-Poly1305, see
--   crypto.rs) with the endpoint id as associated data; inbound secrets are sealed with
--   "inbound-webhook\0<integration id>", so a credentials ciphertext copied into that column
--   (or back) fails to open. Neither is ever stored in clear text (I8).
-- * webhook_attempts has its own serial key rather than (delivery_id, attempt): a deliverer
--   whose lease ran out may report the same attempt number as the one that took over, and both
--   attempts happened.
-- * sync_runs.changed_models accumulates the models a run created, updated or deleted records
--   of (apply_page, sweep_deletions, delete_model add to it under the write lock), across
--   pauses, so finish_run can write `data-changed` without reading the change log.

ALTER TABLE integrations ADD COLUMN inbound_webhook_secret_ciphertext bytea;

ALTER TABLE sync_runs ADD COLUMN changed_models text[] NOT NULL DEFAULT '{}';

CREATE TABLE webhook_endpoints (
    id                text PRIMARY KEY,
    environment       text NOT NULL,
    url               text NOT NULL,
    -- version byte || 24-byte nonce || ciphertext+tag; never clear text (I8).
    secret_ciphertext bytea NOT NULL,
    -- Empty: every event type.
    event_types       text[] NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL
);

-- Fan-out: the endpoints of an event's environment.
CREATE INDEX webhook_endpoints_by_environment ON webhook_endpoints (environment, created_at);

CREATE TABLE webhook_events (
    -- The payload's `id`, the same on every attempt and redelivery.
    id             text PRIMARY KEY,
    environment    text NOT NULL,
    integration_id text,
    event_type     text NOT NULL,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
    seq             bigserial PRIMARY KEY,
    id              text NOT NULL UNIQUE,
    event_id        text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    integration_id  text,
    event_type      text NOT NULL,
    state           text NOT NULL CHECK (state IN ('PENDING', 'DELIVERED', 'DEAD')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);

-- claim_deliveries: WHERE state = 'PENDING' AND next_attempt_at <= now.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
-- The ordering guarantee (an earlier pending delivery of the pair blocks later ones), the
-- endpoint's cascade and list_deliveries by endpoint.
CREATE INDEX webhook_deliveries_pair ON webhook_deliveries (endpoint_id, integration_id, seq);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    seq              bigserial PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          integer NOT NULL,
    at               timestamptz NOT NULL,
    status           integer,
    latency_ms       bigint NOT NULL,
    response_excerpt text,
    error            text
);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, seq);

-- Inbound deliveries already applied, by the tool's id for them (or a digest of the body): a
-- retried delivery inserts nothing. Small per integration, so it cascades like sync_runs.
CREATE TABLE inbound_deliveries (
    integration_id text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    delivery_key   text NOT NULL,
    received_at    timestamptz NOT NULL,
    PRIMARY KEY (integration_id, delivery_key)
);
