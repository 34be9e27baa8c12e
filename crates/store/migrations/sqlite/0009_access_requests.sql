-- Access requests: what someone asked for, the chain of reviews it needs
-- (resolved to people when it was made), where it stands, the plan that
-- fulfilled it and, for time-bound access, when it ends. The row is the
-- durable timer: a server or worker ends what is due, after any restart.
CREATE TABLE access_requests (
    id               TEXT PRIMARY KEY,
    requester        TEXT NOT NULL,
    requester_person TEXT,
    subject          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    body             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    ticket           TEXT,
    duration_ms      INTEGER,
    rule             TEXT NOT NULL,
    chain            TEXT NOT NULL,
    stage            INTEGER NOT NULL,
    stage_started_ms INTEGER NOT NULL,
    escalated        INTEGER NOT NULL,
    state            TEXT NOT NULL,
    break_glass      INTEGER NOT NULL,
    plan_id          TEXT,
    end_plan_id      TEXT,
    grants           TEXT NOT NULL,
    review           TEXT NOT NULL,
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL,
    pending_until_ms INTEGER NOT NULL,
    expires_ms       INTEGER
);
CREATE INDEX access_requests_by_created ON access_requests (created_ms, id);
CREATE INDEX access_requests_due ON access_requests (state, expires_ms);

-- One decision of one reviewer in one stage of a request.
CREATE TABLE request_reviews (
    request_id TEXT NOT NULL,
    stage      INTEGER NOT NULL,
    reviewer   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    decision   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    comment    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (request_id, stage, reviewer)
);

-- A request's timeline reads the events about it and its plans.
CREATE INDEX audit_events_by_subject ON audit_events (subject, seq);

-- A token may act for one person (an email): its requests and reviews are theirs.
ALTER TABLE api_tokens ADD COLUMN person TEXT;
