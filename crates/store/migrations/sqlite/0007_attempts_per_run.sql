-- The attempt count a job had when a person last put it back to pending:
-- each `apply` gets the full retry budget, while the total attempts stay
-- counted (and audited) across runs.
ALTER TABLE jobs ADD COLUMN attempts_at_requeue INTEGER NOT NULL DEFAULT 0;
