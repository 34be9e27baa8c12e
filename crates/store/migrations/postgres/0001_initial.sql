-- PostgreSQL twin of migrations/sqlite/0001_initial.sql: the same tables and
-- columns, with BIGINT for every integer so both backends decode as i64.
CREATE TABLE syncs (
    id          TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    system      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    finished_ms BIGINT NOT NULL,
    digest      TEXT NOT NULL,
    accounts    BIGINT NOT NULL,
    resources   BIGINT NOT NULL,
    grants      BIGINT NOT NULL,
    snapshot    TEXT NOT NULL
);
CREATE INDEX syncs_by_connection ON syncs (connection, finished_ms);

CREATE TABLE plans (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    origin     TEXT NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE jobs (
    plan_id       TEXT NOT NULL REFERENCES plans (id),
    op_id         BIGINT NOT NULL,
    natural_key   TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    outcome       TEXT,
    error_code    TEXT,
    error_message TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (plan_id, op_id)
);

CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TABLE audit_head (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL
);
