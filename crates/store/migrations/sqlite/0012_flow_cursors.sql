-- Where flows read each event source to (Okta's System Log per connection), so a worker that restarts
-- neither loses nor repeats events.
CREATE TABLE flow_cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Runs parked on a step waiting for an event: whose event (subject: a login, email or id, lower case),
-- what matches it (the step's matcher as JSON), until when; and the event that matched, once one did.
CREATE TABLE flow_event_waits (
    run_id      TEXT NOT NULL,
    path        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    matcher     TEXT NOT NULL,
    deadline_ms INTEGER NOT NULL,
    matched     TEXT,
    PRIMARY KEY (run_id, path)
);
CREATE INDEX flow_event_waits_subject ON flow_event_waits (subject);
