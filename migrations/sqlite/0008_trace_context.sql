-- Traces: the W3C `traceparent` of the span a run descends from (the force-sync request that
-- queued it, or the first job span of a scheduled one), and the same on the outbox events the
-- run causes, so its job spans and its webhook deliveries join that one trace. NULL when traces
-- were off: nothing to join. The event keeps its own copy because a delivery outlives nothing
-- of the run it could read it from (retention may remove the run first).
ALTER TABLE sync_runs ADD COLUMN trace_context TEXT;
ALTER TABLE webhook_events ADD COLUMN trace_context TEXT;
