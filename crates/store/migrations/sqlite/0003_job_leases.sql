-- Durable scheduling: when a job may run next, who holds it and until when,
-- why it waits, and which jobs it waits for. Plans gain a status so workers
-- know which plans were asked to run.
ALTER TABLE jobs ADD COLUMN run_after_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN wait_reason TEXT;
ALTER TABLE jobs ADD COLUMN wait_deadline_ms INTEGER;
CREATE INDEX jobs_runnable ON jobs (state, run_after_ms);

CREATE TABLE job_deps (
    plan_id    TEXT NOT NULL,
    op_id      INTEGER NOT NULL,
    depends_on INTEGER NOT NULL,
    PRIMARY KEY (plan_id, op_id, depends_on)
);

ALTER TABLE plans ADD COLUMN status TEXT NOT NULL DEFAULT 'reviewed';
