-- The outbox, not the job queue, decides when an email is due (docs/architecture.md, "Email delivery"):
-- next_attempt_at: when a pending email should next be tried (now at insert, later after a refusal);
-- handoffs: how often the sweep handed it to the queue again; each hand-off has its own job id,
-- so a job id that the queue still holds for a dead worker never blocks the email.
-- depends: 0011_sessions

ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE outbox ADD COLUMN handoffs integer NOT NULL DEFAULT 0;
DROP INDEX outbox_pending_idx;
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE status = 'pending';
