-- Fencing: every claim of a job takes the next token, and every later
-- change of the job (attempt, outcome, lease renewal) must present it, so a
-- worker that lost its lease writes nothing.
ALTER TABLE jobs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;

-- The digest of a plan's content when it was stored; `apply` recomputes it
-- from the body and refuses a plan that no longer matches.
ALTER TABLE plans ADD COLUMN digest TEXT NOT NULL DEFAULT '';

-- An approval is of one exact content (its digest) and lapses.
ALTER TABLE plan_approvals ADD COLUMN digest TEXT;
ALTER TABLE plan_approvals ADD COLUMN expires_ms INTEGER;

-- What grantflow changed since each connection's last sync, so the next
-- command reads its own writes; a sync started after a change supersedes it.
CREATE TABLE applied_changes (
    id         TEXT PRIMARY KEY,
    connection TEXT NOT NULL,
    plan_id    TEXT NOT NULL,
    op_id      INTEGER NOT NULL,
    operation  TEXT NOT NULL,
    applied_ms INTEGER NOT NULL
);
CREATE INDEX applied_changes_by_connection ON applied_changes (connection, applied_ms);

-- The removal budget: what each plan (or one-off change) took from its
-- connection's rolling window, however it was started.
CREATE TABLE removal_budget (
    plan_id    TEXT NOT NULL,
    connection TEXT NOT NULL,
    weight     INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (plan_id, connection)
);
CREATE INDEX removal_budget_window ON removal_budget (connection, at_ms);
