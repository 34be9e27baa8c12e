-- Workflows: the flow versions runs are pinned to, the runs, and one row per
-- step of a run (its history, and what a resumed run replays instead of
-- repeating an effect).
CREATE TABLE flow_versions (
    flow       TEXT NOT NULL,
    version    TEXT NOT NULL,
    path       TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (flow, version)
);

-- state: queued, running, waiting, succeeded, failed. A run is leased like
-- a job (owner, fence, lease_until_ms); due_ms is when a queued or waiting
-- run may next be taken. event_key de-duplicates a trigger's event: one event
-- starts one run of a flow.
CREATE TABLE flow_runs (
    id             TEXT PRIMARY KEY,
    flow           TEXT NOT NULL,
    version        TEXT NOT NULL,
    trigger_kind   TEXT NOT NULL,
    event_key      TEXT,
    event          TEXT NOT NULL,
    actor          TEXT NOT NULL,
    record_io      BIGINT NOT NULL,
    state          TEXT NOT NULL,
    owner          TEXT,
    fence          BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL,
    due_ms         BIGINT NOT NULL,
    output         TEXT,
    error          TEXT,
    created_ms     BIGINT NOT NULL,
    finished_ms    BIGINT
);
CREATE UNIQUE INDEX flow_runs_event ON flow_runs (flow, event_key);
CREATE INDEX flow_runs_due ON flow_runs (state, due_ms);
CREATE INDEX flow_runs_by_flow ON flow_runs (flow, created_ms);

-- state: started (attempted, no outcome recorded yet), succeeded, failed.
-- effect: what a resumed run needs to finish the effect without repeating it
-- (the plan of a connector operation, the idempotency key of an HTTP call).
CREATE TABLE flow_steps (
    run_id      TEXT NOT NULL,
    path        TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    step        TEXT NOT NULL,
    card        TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    input       TEXT,
    output      TEXT,
    error       TEXT,
    effect      TEXT,
    started_ms  BIGINT NOT NULL,
    finished_ms BIGINT,
    PRIMARY KEY (run_id, path)
);
