-- The automatic lifecycle's record (`grantflow serve` with `lifecycle.automatic`): each due change of a
-- person (a joiner's account, a start date's activation, a leaver's retirement), named by its key (the
-- operation's natural key and the HRIS date), with the plan made for it, so that no change is planned
-- twice across restarts and repeated checks. `state`: `planned` (stored, not yet past the gate: taken up
-- again after a crash), `queued` (past the gate, the engine's workers run it) or `refused` (by the gate;
-- `detail` says why, and a person takes it from there).
CREATE TABLE lifecycle_changes (
    key        TEXT PRIMARY KEY,
    person     TEXT NOT NULL,
    step       TEXT NOT NULL,
    plan_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    detail     TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX lifecycle_changes_plan ON lifecycle_changes (plan_id);
