-- Sync snapshots: one row per completed sync of one connection.
CREATE TABLE syncs (
    id          TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    system      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    -- Sort key: epoch milliseconds, because RFC 3339 text does not sort.
    finished_ms INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    accounts    INTEGER NOT NULL,
    resources   INTEGER NOT NULL,
    grants      INTEGER NOT NULL,
    snapshot    TEXT NOT NULL
);
CREATE INDEX syncs_by_connection ON syncs (connection, finished_ms);

-- Plans as reviewed: the operations, their basis and review, as JSON.
CREATE TABLE plans (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    origin     TEXT NOT NULL,
    body       TEXT NOT NULL
);

-- One durable job per operation of a plan. Every state change is committed
-- before and after the vendor call, in the same transaction as its audit event.
CREATE TABLE jobs (
    plan_id       TEXT NOT NULL REFERENCES plans (id),
    op_id         INTEGER NOT NULL,
    natural_key   TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    outcome       TEXT,
    error_code    TEXT,
    error_message TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (plan_id, op_id)
);

-- The audit trail: a hash chain. Each event's hash covers its content and
-- the previous event's hash, so an edit, removal or reordering is detectable.
CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- The chain's head, updated with every append, so removing the newest
-- events is detected too.
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
);
