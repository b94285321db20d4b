-- Deliverers learn of new webhook deliveries at once instead of at their next poll.
--
-- A statement that queues deliveries notifies channel `tributary_outbox`; Postgres delivers
-- the notification when the transaction commits (never for one that rolls back) and folds
-- repeats within a transaction into one. Deliverers LISTEN on it
-- (crates/tributary-store/src/postgres/outbox_signal.rs) and claim when woken; their poll stays
-- as the backstop for retries coming due and for notifications lost with a connection. Only
-- inserts notify: claims and attempts update rows and must not wake every deliverer.
CREATE FUNCTION tributary_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tributary_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_queued
  AFTER INSERT ON webhook_deliveries
  FOR EACH STATEMENT EXECUTE FUNCTION tributary_outbox_notify();
